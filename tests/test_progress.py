"""Progress: bars with the time left in a terminal (a pseudo-terminal here), plain lines
otherwise; library callbacks of one or three arguments."""

from __future__ import annotations

import io
import os
import pty
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from migdata.progress import Console, Lines, as_progress, indent

ROOT = Path(__file__).resolve().parents[1]
#: what a tqdm bar ends with: counts and [time spent<time left]
BAR_TIMES = re.compile(r"\| *[\d.]+[kMG]?/[\d.]+[kMG]? \[\d\d:\d\d<\d\d:\d\d\]")


def _run_in_pty(args: list[str], env: dict[str, str]) -> str:
    """Run a command with stdout and stderr on a pseudo-terminal of 100 x 30; its output."""
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    p = subprocess.Popen(args, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env,
                         cwd=ROOT, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:      # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert p.wait(timeout=300) == 0, out.decode("utf-8", "replace")
    return out.decode("utf-8", "replace")


def _env() -> dict[str, str]:
    return dict(os.environ, MIGDATA_PROGRESS_DELAY="0", PYTHONPATH=str(ROOT))


def test_import_shows_a_bar_with_time_left_in_a_terminal(tmp_path):
    dat = ROOT / "sample_data" / "cbms_2022_hpq.dat"
    step = f"reading cbms_2022_hpq.dat ({dat.stat().st_size / 1e6:,.0f} MB)"
    out = _run_in_pty([sys.executable, "-m", "migdata.cli", "import", str(dat), "--profile", "cbms_2022_hpq",
                       "--out", str(tmp_path / "store")], _env())
    bar = [part for part in out.split("\r") if part.startswith(step + ":")]
    assert bar, out
    assert any(" 100%|" in part and BAR_TIMES.search(part) for part in bar), bar
    # the messages after the bar are lines of their own, and the report follows
    assert "\r\nmapping with profile cbms_2022_hpq\r\nvalidating\r\n" in out
    assert "Saved to" in out


def test_sample_writes_plain_lines_when_not_a_terminal(tmp_path):
    from migdata.sample import generate

    s = io.StringIO()
    generate(tmp_path / "s", households=300, survey=False, kobo=False, progress=Console(stream=s))
    assert s.getvalue().splitlines() == ["CBMS 2022 file (300 households): 100 %"]


def test_import_reports_the_bytes_of_a_cspro_file_in_lines(tmp_path, capsys):
    from migdata.cli import main

    dat = ROOT / "sample_data" / "cbms_2022_hpq.dat"
    mb = f"{dat.stat().st_size / 1e6:,.0f}"
    with pytest.raises(SystemExit) as e:
        main(["import", str(dat), "--profile", "cbms_2022_hpq", "--out", str(tmp_path / "store")])
    assert e.value.code == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert f"reading cbms_2022_hpq.dat ({mb} MB): 100 %" in lines
    assert lines[-2:] == ["mapping with profile cbms_2022_hpq", "validating"]


def test_console_in_a_pseudo_terminal_draws_and_finishes_the_bar():
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 90, 0, 0))
    stream = os.fdopen(slave, "w", encoding="utf-8")
    c = Console(stream=stream, delay=0)
    assert c.tty
    c("reading x.dat", 0, 1000)
    c("reading x.dat", 400, 1000)
    c("a message above the bar")
    c("reading y.dat", 1000, 1000)
    c.close()
    stream.flush()
    stream.close()
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:      # everything written was read
            break
        if not chunk:
            break
        out += chunk
    out = out.decode("utf-8")
    os.close(master)
    assert "reading x.dat:  40%|" in out
    assert "a message above the bar" in out
    assert "reading y.dat: 100%|" in out and BAR_TIMES.search(out.split("reading y.dat")[-1])


def test_console_without_terminal_writes_lines():
    s = io.StringIO()
    c = Console(stream=s)
    assert not c.tty
    for done in (0, 5, 49, 50, 100):
        c("step", done, 100)
    c("done")
    assert s.getvalue().splitlines() == ["step: 40 %", "step: 50 %", "step: 100 %", "done"]


def test_callbacks_of_one_or_three_arguments():
    seen = []
    three = as_progress(lambda message, done=None, total=None: seen.append((message, done, total)))
    three("a", 1, 4)
    assert seen == [("a", 1, 4)]
    one: list[str] = []
    say = as_progress(one.append)
    assert isinstance(say, Lines)
    say("b", 1, 4)
    say("b", 4, 4)
    say("c")
    assert one == ["b: 20 %", "b: 100 %", "c"]
    assert isinstance(as_progress(print), Lines)         # print would show the counts raw
    got: list[str] = []
    indent(got.append, "> ")("d", 2, 2)
    assert got == ["> d: 100 %"]


def test_library_import_hears_counts(tmp_path):
    from migdata.importer import import_files

    calls = []
    import_files([ROOT / "sample_data" / "cbms_2022_hpq.dat"], "cbms_2022_hpq",
                 progress=lambda m, d=None, t=None: calls.append((m, d, t)))
    counted = [c for c in calls if c[1] is not None]
    size = (ROOT / "sample_data" / "cbms_2022_hpq.dat").stat().st_size
    assert counted[0][1:] == (0, size) and counted[-1][1:] == (size, size)
    assert [d for _, d, _ in counted] == sorted(d for _, d, _ in counted)


def test_sample_shows_a_bar_in_a_terminal(tmp_path):
    # 1,200 households (the bundled sample's size): the linked surveys' fixed sample sizes need it
    out = _run_in_pty([sys.executable, "-m", "migdata.cli", "sample", "--out", str(tmp_path / "s"),
                       "--households", "1200"], _env())
    bar = [part for part in out.split("\r") if part.startswith("CBMS 2022 file (1,200 households):")]
    assert any(" 100%|" in part and BAR_TIMES.search(part) for part in bar), out
    # the steps without counts are lines of their own after the bar
    assert "\r\nsample survey (SPSS) ...\r\n" in out


def _notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
                for kind, src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_notebook_run_reports_its_cells(tmp_path):
    pytest.importorskip("papermill", reason="the notebook extras (papermill) are not installed")
    from migdata.report import run_notebook

    # three cells written here: a markdown cell counts as papermill runs through it too
    nb = _notebook(tmp_path / "three.ipynb", [("markdown", "# title"), ("code", "x = 1"), ("code", "x + 1")])
    calls: list[tuple] = []
    run_notebook(nb, {}, cwd=tmp_path, progress=lambda m, d=None, t=None: calls.append((m, d, t)))
    assert calls == [("running three.ipynb", n, 3) for n in range(4)]


def test_a_failed_cell_ends_the_step_and_is_a_located_error(tmp_path):
    pytest.importorskip("papermill", reason="the notebook extras (papermill) are not installed")
    from migdata.errors import MigdataError
    from migdata.report import run_notebook

    nb = _notebook(tmp_path / "fails.ipynb", [("code", "x = 1"), ("code", "1 / 0"), ("code", "x")])
    s = io.StringIO()
    with pytest.raises(MigdataError) as e:
        run_notebook(nb, {}, cwd=tmp_path, progress=Console(stream=s))
    assert e.value.code == "MD804" and "ZeroDivisionError" in e.value.message
    # lines (no terminal): the failed step still closes at 100 %, so no bar is left running
    assert s.getvalue().splitlines() == ["running fails.ipynb: 30 %", "running fails.ipynb: 60 %",
                                         "running fails.ipynb: 100 %"]
