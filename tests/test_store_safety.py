"""Nothing is lost when a dataset is saved: --force replaces only a migdata dataset, a killed
save leaves the old store or the new one complete, stale hidden folders are cleaned, and a
manifest of the wrong shape or edited by hand is a located error (issue 16, items 1, 4, 10, 17)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import migdata
from migdata.cli import main
from migdata.errors import StoreError, render
from migdata.model import HouseholdData, validate
from migdata.model import data as store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    assert e.value.code in (0, 1, 2), out.err
    assert "Traceback" not in out.out + out.err and "Internal error" not in out.err
    return e.value.code, out.out, out.err


def _data(tag: str = "t") -> HouseholdData:
    hh = pd.DataFrame({"hh_id": ["a", "b"], "weight": [1.0, 2.0], "source": [tag, tag]})
    pp = pd.DataFrame({"hh_id": ["a", "a", "b"], "line_no": [1, 2, 1], "sex": ["female", "male", "male"],
                       "age": [40, 7, 66], "relationship": ["head", "child", "head"]})
    return validate(HouseholdData({"households": hh, "persons": pp}, provenance={"sources": [tag]}))


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- --force: only a migdata dataset is ever replaced -------------------------------------------

def test_force_never_deletes_a_document(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"two years of work")
    before = _tree(folder)
    for force in (False, True):
        with pytest.raises(StoreError) as e:
            _data().save(folder, force=force)
        assert e.value.code == "MD122"
    assert _tree(folder) == before
    # the message says how to proceed, and that --force will not help
    msg = e.value.message
    assert "thesis.docx" in msg and "even with --force" in msg and "move its files elsewhere" in msg


def test_force_never_deletes_a_dataset_folder_that_also_holds_a_document(tmp_path):
    out = _data().save(tmp_path / "s")
    (out / "notes.txt").write_text("mine")
    before = _tree(out)
    with pytest.raises(StoreError) as e:
        _data("other").save(out, force=True)
    assert e.value.code == "MD129" and "notes.txt" in e.value.message
    assert _tree(out) == before


def test_cli_import_with_force_and_the_inputs_inside_the_folder_deletes_nothing(tmp_path, capsys):
    # the input files live in the folder given as --out: refused before reading, nothing deleted
    folder = tmp_path / "work"
    folder.mkdir()
    for f in ("cbms_2022_hpq.dat", "cbms_2022_hpq_layout.dcf"):
        (folder / f).write_bytes((SAMPLE / f).read_bytes())
    (folder / "memo.docx").write_bytes(b"memo")
    before = _tree(folder)
    code, _, err = run(capsys, "import", folder / "cbms_2022_hpq.dat", "--profile", "cbms_2022_hpq",
                       "--out", folder, "--force")
    assert code == 2 and "[MD122]" in err
    assert _tree(folder) == before


def test_input_inside_a_dataset_folder_is_refused(tmp_path):
    out = _data().save(tmp_path / "s")
    part = out / "persons.parquet"  # a file the manifest lists, given as an input
    with pytest.raises(StoreError) as e:
        store.check_target(out, None, force=True, inputs=[part])
    assert e.value.code == "MD130"
    assert e.value.message == render("MD130", path=out, file=part)
    store.check_target(out, None, force=True, inputs=[tmp_path / "elsewhere.dat"])  # allowed


def test_force_replaces_another_dataset_and_a_new_or_empty_folder_is_fine(tmp_path):
    out = _data().save(tmp_path / "s")
    with pytest.raises(StoreError) as e:
        _data("other").save(out)
    assert e.value.code == "MD121"
    other = _data("other")
    other.save(out, force=True)
    assert migdata.load(out).dataset_id == other.dataset_id
    (tmp_path / "empty").mkdir()
    _data().save(tmp_path / "empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "s"]


def test_cli_refusals_are_usage_errors_before_any_reading(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_text("a")
    code, out, err = run(capsys, "import", SAMPLE / "cbms_2022_hpq.dat", "--profile", "cbms_2022_hpq",
                         "--out", tmp_path / "x")
    assert code == 2 and "[MD122]" in err
    assert "reading" not in err  # refused before the import started


# -- the swap: no window without a store --------------------------------------------------------

_KILL_BETWEEN_RENAMES = r"""
import os, sys
import pandas as pd
from migdata.model import HouseholdData, validate
from migdata.model import data as store
store._exchange = lambda a, b: False          # the two-rename path of systems without an exchange
real = os.replace
def replace(a, b):
    real(a, b)
    if ".old-" in str(b):                      # the old store was just moved aside: die here
        os._exit(9)
store.os.replace = replace
hh = pd.DataFrame({"hh_id": ["n"], "weight": [1.0], "source": ["new"]})
pp = pd.DataFrame({"hh_id": ["n"], "line_no": [1], "sex": ["male"], "age": [5], "relationship": ["head"]})
HouseholdData({"households": hh, "persons": pp}).save(sys.argv[1], force=True)
"""


def test_a_kill_between_the_two_renames_leaves_the_new_store_complete(tmp_path):
    out = _data().save(tmp_path / "s")
    r = subprocess.run([sys.executable, "-c", _KILL_BETWEEN_RENAMES, str(out)], cwd=ROOT)
    assert r.returncode == 9
    assert not out.exists()  # the window the exchange closes: the old store aside, the new not in place
    back = migdata.load(out)  # the next open finds the complete new store
    assert back.persons["hh_id"].tolist() == ["n"]
    assert {p.name.split("-")[0] for p in tmp_path.iterdir()} >= {"s", ".s.old"}
    _data().save(out, force=True)  # the next save cleans the folders of the dead process
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_the_exchange_swaps_in_one_step_where_the_system_can(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x").write_text("a")
    (b / "y").write_text("b")
    if not store._exchange(a, b):
        pytest.skip("this system has no atomic exchange of folders (the two-rename path is tested above)")
    assert (b / "x").exists() and (a / "y").exists()


def test_stale_hidden_folders_of_dead_processes_are_cleaned_and_live_ones_kept(tmp_path):
    data = _data()
    out = data.save(tmp_path / "s")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = [tmp_path / f".s.tmp-{dead}-abcd1234", tmp_path / f".s.old-{dead}-abcd1234"]
    for p in stale:
        p.mkdir()
        (p / "persons.parquet").write_bytes(b"half written")
    live = tmp_path / f".s.tmp-{os.getppid()}-live0000"  # a running process (pytest's parent)
    live.mkdir()
    other = tmp_path / ".t.tmp-1-zz"  # another dataset's folder: not ours to touch
    other.mkdir()
    data.save(out)  # the same dataset saved again
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["s", live.name, other.name])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_kill_at_a_random_moment_leaves_the_old_or_the_new_store(tmp_path, seed):
    # a CLI import of the bundled CBMS sample over an existing store, killed at a random moment
    rng = random.Random(seed)
    out = tmp_path / "store"
    old = _data()
    old.save(out)
    cmd = [sys.executable, "-m", "migdata.cli", "import", str(SAMPLE / "cbms_2022_hpq.dat"),
           "--profile", "cbms_2022_hpq", "--out", str(out), "--force"]
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.5, 4.0))
    p.send_signal(signal.SIGKILL)
    p.wait()
    back = migdata.load(out)  # verified: every checksum, the manifest's included
    n = len(back.persons)
    # the sample generator records how many persons it wrote (sample_data/generated.json)
    full = json.loads((SAMPLE / "generated.json").read_text())["cbms_counts"]["persons"]
    assert (back.dataset_id == old.dataset_id and n == 3) or n == full


# -- the manifest: shape and checksum --------------------------------------------------------------

def _edit(out: Path, change) -> Path:
    m = out / "manifest.json"
    doc = json.loads(m.read_text())
    doc = change(doc)
    m.write_text(json.dumps(doc))
    return m


@pytest.mark.parametrize("label,change", [
    ("a list", lambda m: [m]),
    ("null", lambda m: None),
    ("a number", lambda m: 3),
    ("no tables", lambda m: {k: v for k, v in m.items() if k != "tables"}),
    ("tables empty", lambda m: {**m, "tables": {}}),
    ("tables a list", lambda m: {**m, "tables": list(m["tables"])}),
    ("part without sha256", lambda m: {**m, "tables": {**m["tables"], "persons": {
        **m["tables"]["persons"], "parts": [{k: v for k, v in m["tables"]["persons"]["parts"][0].items()
                                             if k != "sha256"}]}}}),
    ("part escaping the folder", lambda m: {**m, "tables": {**m["tables"], "persons": {
        **m["tables"]["persons"], "parts": [{**m["tables"]["persons"]["parts"][0],
                                             "file": "../../etc/passwd"}]}}}),
    ("rows not a number", lambda m: {**m, "tables": {**m["tables"], "persons": {
        **m["tables"]["persons"], "rows": "3"}}}),
    ("import report a list", lambda m: {**m, "import_report": []}),
    ("from a newer migdata", lambda m: {**m, "format_version": 99}),
])
def test_a_manifest_of_the_wrong_shape_is_md125(tmp_path, capsys, label, change):
    out = _data().save(tmp_path / "s")
    _edit(out, change)
    with pytest.raises(StoreError) as e:
        migdata.load(out)
    assert e.value.code == "MD125", label
    for cmd in ("validate", "info"):
        code, _, err = run(capsys, cmd, out)
        assert code == 1 and "[MD125]" in err, (label, cmd)


def test_an_edited_manifest_is_reported_by_validate(tmp_path, capsys):
    out = _data().save(tmp_path / "s")
    code, _, _ = run(capsys, "validate", out)
    assert code == 0
    m = _edit(out, lambda doc: {**doc, "sources": ["<script>alert(1)</script>"]})
    code, _, err = run(capsys, "validate", out)
    assert code == 1 and err.strip() == "Error: " + render("MD131", path=m)
    # re-indenting the file changes no value: still good
    out2 = _data().save(tmp_path / "s2")
    m2 = out2 / "manifest.json"
    m2.write_text(json.dumps(json.loads(m2.read_text()), indent=7, sort_keys=True))
    assert migdata.load(out2).persons.shape[0] == 3


@pytest.mark.parametrize("seed", range(6))
def test_seeded_manifest_mutants_never_crash(tmp_path, capsys, seed):
    """Random edits of a manifest's values (types, deletions, junk): every one is exit 0 or 1
    with one message, never an internal error; an edit of a checked value is never silent."""
    rng = random.Random(seed)
    out = _data().save(tmp_path / "s")
    doc = json.loads((out / "manifest.json").read_text())
    junk = [None, [], {}, "x", -1, 1.5, True, "../x", {"a": [1]}]

    def paths(node, prefix=()):
        yield prefix
        if isinstance(node, dict):
            for k, v in node.items():
                yield from paths(v, prefix + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from paths(v, prefix + (i,))

    every = [p for p in paths(doc) if p]
    for _ in range(8):
        m = json.loads(json.dumps(doc))
        where = rng.choice(every)
        parent = m
        for k in where[:-1]:
            parent = parent[k]
        if rng.random() < 0.3 and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = rng.choice(junk)
        if m == doc:
            continue  # the junk equals the value it replaced: nothing was edited
        (out / "manifest.json").write_text(json.dumps(m))
        code, _, err = run(capsys, "validate", out)
        assert code == 1, (where, err)
        assert "[MD12" in err or "[MD131]" in err, (where, err)


def test_a_store_of_an_older_format_still_validates_and_says_its_manifest_is_unchecked(tmp_path, capsys):
    out = _data().save(tmp_path / "s")
    _edit(out, lambda doc: {**{k: v for k, v in doc.items() if k != "manifest_sha256"}, "format_version": 2})
    code, out_text, _ = run(capsys, "validate", out)
    assert code == 0 and "carries no checksum of its own" in out_text
