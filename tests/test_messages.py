"""The message catalogue (``migdata/messages/*.toml``) holds every code the product uses.

A code written in the package, its documentation or its notebooks but missing from the
catalogue would print as a bare code with raw fields instead of a message with what to do:
the static scan below fails the build for it, and :meth:`ImportReport.record` refuses an
unknown code at run time (a bug, never bad input).
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from migdata.errors import catalogue, render
from migdata.model.report import ImportReport

ROOT = Path(__file__).resolve().parents[1]
CODE = re.compile(r"\bMD\d{3}\b")
# a range in a comment (MD500-MD549) names the block of codes a file may use, not one code
RANGE = re.compile(r"\bMD\d{3}\s*[-–]\s*MD\d{3}\b")


def _scanned_files() -> list[Path]:
    files = [p for p in (ROOT / "migdata").rglob("*")
             if p.suffix in (".py", ".toml", ".md", ".ipynb") and "messages" not in p.parts]
    return files + [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]


def test_every_code_used_is_in_the_catalogue():
    known = set(catalogue())
    missing = []
    for path in _scanned_files():
        text = RANGE.sub("", path.read_text(encoding="utf-8"))
        for m in CODE.finditer(text):
            if m.group(0) not in known:
                line = text.count("\n", 0, m.start()) + 1
                missing.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0)}")
    assert not missing, "codes used but not in migdata/messages/*.toml:\n" + "\n".join(missing)


def test_the_scan_sees_codes_in_code():
    # the scan must find the codes raised in the package: a broken pattern would pass vacuously
    used = {m.group(0) for p in _scanned_files() if p.suffix == ".py"
            for m in CODE.finditer(p.read_text(encoding="utf-8"))}
    assert {"MD105", "MD504", "MD709", "MD116"} <= used


@pytest.mark.parametrize("code", sorted(catalogue()))
def test_each_entry_has_a_rule_a_message_and_valid_templates(code):
    entry = catalogue()[code]
    assert entry.get("rule") and entry.get("message"), code
    for key in ("message", "todo"):
        # every {field} parses: a stray brace would make render() fail on a real problem
        list(string.Formatter().parse(entry.get(key, "")))
    assert render(code).startswith(f"[{code}] ")


def test_recording_an_unknown_code_is_refused():
    r = ImportReport()
    with pytest.raises(KeyError, match="MD999"):
        r.add("MD999", table="persons", source_row=1)
    assert r.problems == []


def test_retired_codes_still_raised_have_their_messages():
    # MD713 was raised without an entry; later MD707-MD709 lost theirs while still raised
    for code, fields in (("MD707", {"column": "barangay", "level": "barangay"}), ("MD708", {"value": 0}),
                         ("MD709", {"columns": "units"})):
        assert not render(code, **fields).startswith(f"{code}:")  # the bare fallback of render()
    assert "lacks column(s) units" in render("MD709", columns="units")


def test_an_error_pickled_reads_the_same():
    # errors cross process boundaries (worker processes of an import, Dask workers): the code,
    # the fields, the message, the exit code and any attribute set after raising survive
    import pickle

    from migdata.errors import DataError, UsageError

    for err in (DataError("MD101", table="persons", columns="hh_id", file="x.dat"),
                UsageError("MD004", what="validation policy", value="loose", choices="lenient, reject, strict")):
        err.report = ["kept"]
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and back.code == err.code
        assert back.fields == err.fields and back.exit_code == err.exit_code and back.report == ["kept"]
