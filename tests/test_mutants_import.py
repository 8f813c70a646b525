"""Seeded mutants of import inputs, one generator per defect class, through the ``migdata
import`` command line. Invariants on every mutant:

- the exit code is 0, 1 or 2, never 3 ("internal error"), and no traceback is printed;
- every stored table balances, rows read = kept + rejected, and rows read equal an independent
  count of the input (lines of the CSV file, submissions and roster rows written to the export);
- no planted identifier (a name, a phone number, an e-mail address) is in any output: the
  Parquet files, ``manifest.json``, or the terminal text;
- the class's own rule (numbers stored are finite; a submission id is stored once; ``*_src``
  columns hold codes only).

Classes (issue: nothing lost, nothing leaked): non-finite and huge numbers in integer and money
columns, missing and zero weights; names typed into coded columns; names, phone numbers and
e-mail addresses typed into kept free text; duplicate and blank Kobo submission ids.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import random
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow.parquet as pq
import pytest

from migdata.cli import main
from migdata.questionnaires.submissions import fake_submissions, write_kobo_xlsx

NAMES = ["Rosalinda Macaraeg", "Teodoro Balagtas", "Ligaya Dimaculangan"]
PHONES = ["0917 555 0142", "+63 918 555 0199", "(02) 8555-0123"]
EMAILS = ["rosa.macaraeg@example.ph", "tbalagtas@mail.example.com"]
HUGE = ["inf", "Infinity", "-inf", "1e309", "-1e309", "1e308", "-1e308", "1e12", "12345678901234567890", "NaN"]
POLICIES = ["lenient", "reject", "strict"]

PROFILE = """
[profile]
name = "mutant_csv"
reader = "csv"
complete_count = false

[design]
weights = "weight"

[tables.households]
from = "households"

[tables.households.columns]
hh_id = "hh_no"
psgc = { from = "municipality_code", area = "psgc10" }
urban_rural = { from = "urban", codes = { U = "urban", R = "rural" } }
cash_abroad = "remit_php"
weight = "wt"
head_name = { from = "head_name", drop = true }
phone = { from = "phone", drop = true }

[tables.persons]
from = "members"

[tables.persons.columns]
hh_id = "hh_no"
line_no = "line"
sex = { from = "sex", codes = { M = "male", F = "female" }, source_column = "sex_src" }
age = "age"
relationship = { from = "rel", codes = { 1 = "head", 2 = "spouse", 3 = "child" }, source_column = "relationship_src" }
of_status = { from = "ofw", codes = { 1 = "ofw_contract", 5 = "resident" }, source_column = "of_status_src" }
months_abroad = "months"
occupation = { from = "occupation", dtype = "string", free_text = true }
name = { from = "member_name", drop = true }
"""

GIVEN = ["Jose", "Maria", "Pedro", "Ana", "Ramon", "Liza"]
SURNAMES = ["Villanueva", "Dimagiba", "Panganiban", "Sarmiento"]


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue() + err.getvalue()


def _stored_text(store: Path) -> tuple[str, dict[str, list[dict]]]:
    """manifest.json's text and every stored table's rows."""
    tables: dict[str, list[dict]] = {}
    for p in sorted(store.glob("*.parquet")):
        tables.setdefault(p.stem.split("-")[0], []).extend(pq.read_table(p).to_pylist())
    return (store / "manifest.json").read_text(encoding="utf-8"), tables


def _check(code: int, text: str, store: Path, reads: dict[str, int], planted: list[str]) -> dict | None:
    assert code in (0, 1, 2), text
    assert "Traceback" not in text and "Internal error" not in text, text
    secrets = [p.lower() for p in planted]
    for s in secrets:
        assert s not in text.lower(), f"{s!r} on the terminal:\n{text}"
    if not (store / "manifest.json").exists():
        assert code != 0, text  # no store only when the import failed
        return None
    manifest, tables = _stored_text(store)
    for s in secrets:
        assert s not in manifest.lower(), f"{s!r} in manifest.json"
        for name, rows in tables.items():
            for row in rows:
                for v in row.values():
                    assert not (isinstance(v, str) and s in v.lower()), f"{s!r} in {name}: {row}"
    counts = json.loads(manifest)["import_report"]["counts"]
    for table, n in reads.items():
        c = counts[table]
        assert c["read"] == c["kept"] + c["rejected"] == n, (table, c, n)
        assert len(tables.get(table, [])) == c["kept"], table
    return {"counts": counts, "tables": tables}


def _assert_finite_numbers(tables: dict[str, list[dict]]) -> None:
    for name, rows in tables.items():
        for row in rows:
            for k, v in row.items():
                if isinstance(v, float):
                    assert np.isfinite(v), (name, k, v)


def _assert_src_codes(tables: dict[str, list[dict]]) -> None:
    from migdata.model.privacy import looks_personal

    for name, rows in tables.items():
        for row in rows:
            for k, v in row.items():
                if k.endswith("_src") and v is not None:
                    assert not looks_personal(v), (name, k, v)


# -- CSV: numbers, weights, coded columns, free text ----------------------------------------------

def _csv_case(rng: random.Random, tmp: Path) -> tuple[list[list[str]], list[list[str]]]:
    hh = [["hh_no", "municipality_code", "urban", "head_name", "phone", "remit_php", "wt"]]
    pp = [["hh_no", "line", "sex", "age", "rel", "ofw", "months", "occupation", "member_name"]]
    for h in range(rng.randint(2, 5)):
        surname = rng.choice(SURNAMES)
        hid = f"H{h + 1:03d}"
        hh.append([hid, "0401007000", rng.choice("UR"), f"{rng.choice(GIVEN)} {surname}",
                   f"0917{rng.randint(1000000, 9999999)}", str(rng.choice([0, 5000, 15000])),
                   f"{rng.uniform(50, 500):.2f}"])
        for ln in range(1, rng.randint(1, 4) + 1):
            ofw = rng.choice(["1", "5"])
            pp.append([hid, str(ln), rng.choice("MF"), str(rng.randint(0, 90)), "1" if ln == 1 else "3",
                       ofw, str(rng.randint(1, 60)) if ofw == "1" else "", rng.choice(["driver", "nurse", ""]),
                       f"{rng.choice(GIVEN)} {surname}"])
    return hh, pp


def _write_csv(tmp: Path, hh: list[list[str]], pp: list[list[str]]) -> list[Path]:
    files = [tmp / "households.csv", tmp / "members.csv"]
    for f, rows in zip(files, (hh, pp)):
        f.write_text("".join(",".join(f'"{c}"' if "," in c else c for c in r) + "\n" for r in rows),
                     encoding="utf-8")
    (tmp / "profile.toml").write_text(PROFILE, encoding="utf-8")
    return files


def _mutate_csv(kind: str, rng: random.Random, hh: list[list[str]], pp: list[list[str]]) -> list[str]:
    """Plant mutants of one class; returns the identifiers planted."""
    planted: list[str] = []
    for _ in range(rng.randint(1, 4)):
        if kind == "numbers":
            if rng.random() < 0.5:
                r = rng.randrange(1, len(pp))
                pp[r][rng.choice([1, 3, 6])] = rng.choice(HUGE)  # line, age, months abroad
            else:
                r = rng.randrange(1, len(hh))
                col = rng.choice([5, 6])  # money, weight
                hh[r][col] = rng.choice(HUGE + ["", "0", "-1"] if col == 6 else HUGE)
        elif kind == "coded":
            r = rng.randrange(1, len(pp))
            name = rng.choice(NAMES + PHONES)
            pp[r][rng.choice([2, 4, 5])] = name  # sex, relationship, OF status
            planted.append(name)
        elif kind == "free text":
            r = rng.randrange(1, len(pp))
            hid = pp[r][0]
            own = [row[8] for row in pp[1:] if row[0] == hid] + [row[3] for row in hh[1:] if row[0] == hid]
            name = rng.choice(own)
            secret = rng.choice(PHONES + EMAILS + [name])
            pp[r][7] = rng.choice(["driver, call {}", "{} (cook)", "ask {} at the pier"]).format(secret)
            planted.append(secret)
    return planted


@pytest.mark.parametrize("kind", ["numbers", "coded", "free text"])
@pytest.mark.parametrize("seed", range(6))
def test_csv_mutants(tmp_path, kind, seed):
    rng = random.Random(f"{kind}-{seed}")
    hh, pp = _csv_case(rng, tmp_path)
    planted = _mutate_csv(kind, rng, hh, pp)
    files = _write_csv(tmp_path, hh, pp)
    store = tmp_path / "store"
    code, text = _run(["import", *map(str, files), "--profile", str(tmp_path / "profile.toml"),
                       "--out", str(store), "--policy", POLICIES[seed % 3]])
    got = _check(code, text, store, {"households": len(hh) - 1, "persons": len(pp) - 1}, planted)
    assert (got is None) == (POLICIES[seed % 3] == "strict" and code == 1), text  # saved unless strict failed
    if got:
        _assert_finite_numbers(got["tables"])
        _assert_src_codes(got["tables"])
        if kind == "free text":  # the planted text was redacted, not dropped: its cell says so
            occ = [r["occupation"] for r in got["tables"]["persons"] if r["occupation"]]
            assert any("[" in o for o in occ) or not occ


# -- Kobo exports: duplicate and blank submission ids, numbers, codes, free text -----------------

OF_MONEY = ["rem/remit_12m", "work/income_month", "rem/last_amount", "rem/cash_brought"]
OF_INTS = ["demo/age", "link/line_no", "work/months_worked", "hist/n_departures"]
OF_CODED = ["demo/sex", "hist/of_type", "demo/education", "hist/dep_reason"]


def _blank_uuids(xlsx: Path, positions: set[int]) -> None:
    """Empty the ``_uuid`` cell of the given submissions (0-based) in the export's main sheet
    (the writer gives every submission a uuid, as Kobo does)."""
    wb = openpyxl.load_workbook(xlsx)
    ws = wb.worksheets[0]
    col = [c.value for c in ws[1]].index("_uuid") + 1
    for i in positions:
        ws.cell(row=i + 2, column=col).value = None
    wb.save(xlsx)


def _mutate_kobo(rng: random.Random, subs: list[dict], form: str
                 ) -> tuple[list[dict], list[str], int, set[int]]:
    """Plant mutants; returns the submissions, the identifiers planted, how many rows the
    submission-id rule must reject (copies of an id, blank ids), counted here independently, and
    the submissions whose id is to be blanked in the export."""
    planted: list[str] = []
    blank: set[int] = set()
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(["duplicate", "blank", "numbers", "coded", "free text"])
        s = rng.choice(subs)
        if op == "duplicate":
            subs.append(copy.deepcopy(s))
        elif op == "blank":
            blank.add(subs.index(s))
        elif op == "numbers" and form == "overseas_filipino_survey":
            s[rng.choice(OF_MONEY + OF_INTS)] = rng.choice(HUGE)
        elif op == "coded":
            name = rng.choice(NAMES)
            key = rng.choice(OF_CODED) if form == "overseas_filipino_survey" else "link/respondent_rel"
            s[key] = name
            planted.append(name)
        elif op == "free text" and form == "overseas_filipino_survey":
            secret = rng.choice(PHONES + EMAILS)
            s["work/occupation"] = f"seaman, text {secret}"
            planted.append(secret)
    seen: set[str] = set()
    rejected = 0
    for i, s in enumerate(subs):
        uid = "" if i in blank else s["_uuid"]
        rejected += (not uid) or uid in seen
        seen.add(uid)
    return subs, planted, rejected, blank


@pytest.mark.parametrize("form, profile, table", [
    ("overseas_filipino_survey", "kobo_of_survey", "of_survey"),
    ("children_left_behind_survey", "kobo_clb_survey", "clb_survey"),
])
@pytest.mark.parametrize("seed", range(4))
def test_kobo_survey_mutants(tmp_path, form, profile, table, seed):
    rng = random.Random(f"{form}-{seed}")
    subs, planted, rejected, blank = _mutate_kobo(rng, fake_submissions(form, rng.randint(3, 6), seed=seed),
                                                  form)
    p = write_kobo_xlsx(form, subs, tmp_path / "export.xlsx", check=False)
    _blank_uuids(p, blank)
    store = tmp_path / "store"
    code, text = _run(["import", str(p), "--profile", profile, "--out", str(store)])
    got = _check(code, text, store, {table: len(subs)}, planted)
    assert got is not None, text  # lenient: every mutant imports, the problems reported
    assert got["counts"][table]["rejected"] >= rejected
    ids = [r["response_id"] for r in got["tables"][table]]
    assert None not in ids and len(ids) == len(set(ids))
    _assert_finite_numbers(got["tables"])
    _assert_src_codes(got["tables"])
    report = json.loads((store / "manifest.json").read_text())["import_report"]["problems"]
    assert sum(p["code"] in ("MD107", "MD113") for p in report) == rejected


@pytest.mark.parametrize("seed", range(3))
def test_kobo_rider_duplicate_and_blank_submissions(tmp_path, seed):
    rng = random.Random(f"rider-{seed}")
    subs = [s for s in fake_submissions("cbms_migration_rider", 4, seed=seed) if s["consent"] == "1"]
    dup = copy.deepcopy(rng.choice(subs))
    subs.append(dup)
    blank = rng.choice([s for s in subs[:-1] if s["_uuid"] != dup["_uuid"]])
    p = write_kobo_xlsx("cbms_migration_rider", subs, tmp_path / "rider.xlsx", check=False)
    _blank_uuids(p, {subs.index(blank)})
    store = tmp_path / "store"
    code, text = _run(["import", str(p), "--profile", "kobo_cbms_rider", "--out", str(store)])
    members = sum(len(s.get("members", [])) for s in subs)
    got = _check(code, text, store, {"households": len(subs), "persons": members}, [])
    assert got is not None and code == 1
    # independent count: the copy and the blank submission are rejected with all their members
    lost = len(dup.get("members", [])) + len(blank.get("members", []))
    assert got["counts"]["households"]["rejected"] == 2
    assert got["counts"]["persons"]["rejected"] == lost
