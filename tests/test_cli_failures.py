"""The command line on a full disk or a read-only folder (MD005, exit 2, nothing printed at exit),
exit 2 for a path or area code that does not exist, and --encoding that does what MD003 advises
(issue 16, items 18, 20, 21)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from migdata.cli import main
from migdata.errors import render

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err and "Internal error" not in out.err, out.err
    return e.value.code, out.out, out.err


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    # the bundled CBMS sample
    out = tmp_path_factory.mktemp("s") / "store"
    r = subprocess.run([sys.executable, "-m", "migdata.cli", "import", str(SAMPLE / "cbms_2022_hpq.dat"),
                        "--profile", "cbms_2022_hpq", "--out", str(out)], cwd=ROOT, capture_output=True)
    assert r.returncode == 0, r.stderr
    return out


COMMANDS = {
    "import": lambda store, out: ["import", str(SAMPLE / "cbms_2022_hpq.dat"), "--profile", "cbms_2022_hpq",
                                  "--out", str(out / "store")],
    "estimate": lambda store, out: ["estimate", str(store), "--kind", "total", "--var", "age",
                                    "--by", "barangay", "--out", str(out / "est.csv")],
    "indicators": lambda store, out: ["indicators", str(store), "--level", "province", "--by", "none",
                                      "--ids", "OF01,OF02", "--out", str(out / "ind.xlsx"), "--csv"],
    "codebook": lambda store, out: ["codebook", str(SAMPLE / "cbms_2022_hpq_layout.dcf"),
                                    "--out", str(out / "cb.xlsx")],
}


def _full_disk_writes(monkeypatch):
    """Every write of more than a few bytes fails with ENOSPC, as on a full disk."""
    def fail(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    import pyarrow.parquet as pq
    import zipfile

    monkeypatch.setattr(pq, "write_table", fail)
    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail)
    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_write_failure_is_md005_exit_2_in_process(capsys, monkeypatch, tmp_path, store, command):
    _full_disk_writes(monkeypatch)
    code, out, err = run(capsys, *COMMANDS[command](store, tmp_path))
    assert code == 2, err
    assert "[MD005]" in err and os.strerror(errno.ENOSPC) in err
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".")] or command == "estimate"


def _root_tmpfs(path: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("kind", ["full", "read-only"])
def test_real_full_disk_and_read_only_folder(tmp_path, store, kind):
    """A real 1 MB file system, filled up or mounted read-only (needs root to mount; skipped
    otherwise, the in-process test above covers the same paths): each command exits 2 with
    MD005, and nothing else is printed, not at exit either ("Exception ignored ...")."""
    mnt = tmp_path / "mnt"
    if not _root_tmpfs(mnt, "size=1m" + (",ro" if kind == "read-only" else "")):
        pytest.skip("mounting a small file system needs root")
    try:
        commands = COMMANDS if kind == "full" else {c: COMMANDS[c] for c in ("import", "indicators")}
        for command, args in commands.items():
            if kind == "full":
                for p in mnt.iterdir():
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                with open(mnt / "filler", "wb") as fh:  # fill the file system up
                    try:
                        for _ in range(1024):
                            fh.write(b"\0" * 1024)
                            fh.flush()
                    except OSError:
                        pass
            r = subprocess.run([sys.executable, "-m", "migdata.cli", *args(store, mnt)], cwd=ROOT,
                               capture_output=True, text=True)
            # besides progress lines, one message: no traceback, no "Exception ignored" at exit
            err_lines = [ln for ln in r.stderr.splitlines()
                         if any(w in ln for w in ("rror", "xception", "Traceback", "File \""))]
            assert r.returncode == 2, (command, r.stderr)
            assert len(err_lines) == 1 and err_lines[0].startswith("Error: [MD005]"), (command, r.stderr)
            assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# -- exit codes ------------------------------------------------------------------------------------

def test_missing_inputs_stores_and_area_codes_are_usage_errors(capsys, tmp_path):
    code, _, err = run(capsys, "import", tmp_path / "nope.dat", "--profile", "cbms_2022_hpq",
                       "--out", tmp_path / "o")
    assert code == 2 and err.strip() == "Error: " + render("MD001", path=str(tmp_path / "nope.dat"))
    for cmd in ("info", "validate"):
        code, _, err = run(capsys, cmd, tmp_path / "nostore")
        assert code == 2 and err.strip() == "Error: " + render("MD123", path=tmp_path / "nostore")
    code, _, err = run(capsys, "codebook", tmp_path / "none.dcf")
    assert code == 2 and "[MD001]" in err
    code, _, err = run(capsys, "areas", "show", "0499999999")
    assert code == 2 and "[MD201]" in err


def test_an_option_a_reader_does_not_take_is_a_usage_error(capsys, tmp_path):
    code, _, err = run(capsys, "import", SAMPLE / "kobo" / "overseas_filipino_survey.xlsx",
                       "--profile", "kobo_of_survey", "--encoding", "cp1252", "--out", tmp_path / "o")
    assert code == 2 and "[MD006]" in err and "'encoding'" in err


# -- --encoding: the advice of MD003 works ----------------------------------------------------------

def test_md003_advice_to_pass_encoding_works(capsys, tmp_path):
    # a CBMS file whose street names were written in Windows cp1252 (ñ = byte F1)
    raw = (SAMPLE / "cbms_2022_hpq.dat").read_bytes().split(b"\n")
    dcf = (SAMPLE / "cbms_2022_hpq_layout.dcf").read_text()
    start = int(dcf.split("Name=STRTNME\nStart=")[1].split("\n")[0])
    i = next(k for k, ln in enumerate(raw) if ln[:1] == b"1" and len(ln) > start + 6)  # a GEO_ID line
    line = bytearray(raw[i])
    line[start - 1:start + 4] = "Peña ".encode("cp1252")
    raw[i] = bytes(line)
    (tmp_path / "hpq.dat").write_bytes(b"\n".join(raw))
    (tmp_path / "hpq.dcf").write_text(dcf)
    code, _, err = run(capsys, "import", tmp_path / "hpq.dat", "--profile", "cbms_2022_hpq",
                       "--out", tmp_path / "o")
    offset = sum(len(ln) + 1 for ln in raw[:i]) + start - 1 + 2  # the byte of ñ
    expected = render("MD003", path=str(tmp_path / "hpq.dat"), encoding="utf-8", offset=offset)
    assert code == 1 and err.strip().endswith(expected) and "--encoding cp1252" in expected
    code, out, err = run(capsys, "import", tmp_path / "hpq.dat", "--profile", "cbms_2022_hpq",
                         "--out", tmp_path / "o", "--encoding", "cp1252")
    assert code == 0 and "no problems found" in out
