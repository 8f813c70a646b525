"""The profile engine and import pipeline on the README's worked example and on broken profiles."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from migdata.errors import DataError, MigdataError, UsageError, render
from migdata.importer import codebook_table, import_files
from migdata.publish.codebook import write_codebook
from migdata.profiles import list_profiles, load_profile, parse_profile, profiles_text
from migdata.readers import get_reader, reader_for
from tests.conftest import realfile

FIX = Path(__file__).parent / "fixtures" / "profiles_engine"
FILES = [FIX / "households.csv", FIX / "members.csv"]
PROFILE = FIX / "lgu_survey_2024.toml"


@pytest.fixture(scope="module")
def example():
    return import_files(FILES, PROFILE)


def test_readme_example_is_the_fixture():
    readme = (Path(__file__).parents[1] / "migdata" / "profiles" / "README.md").read_text()
    assert PROFILE.read_text().strip() in readme
    for f in FILES:
        assert f.read_text().strip() in readme


def test_worked_example_values(example):
    hh, p = example.households.set_index("hh_id"), example.persons
    assert len(hh) == 3 and len(p) == 7
    # hand-read from the CSV files
    assert hh.loc["H001", "psgc"] == "0401007000" and hh.loc["H002", "psgc"] == "0402104000"
    assert pd.isna(hh.loc["H003", "psgc"])
    assert hh["urban_rural"].tolist() == ["urban", "rural", "urban"]
    assert hh["cash_abroad"].tolist() == [15000.0, 0.0, 5000.0]
    assert p["sex"].tolist()[:6] == ["male", "female", "female", "female", "male", "female"]
    assert pd.isna(p["sex"].iloc[6]) and p["sex_src"].iloc[6] == "X"
    assert p["of_status"].tolist()[:2] == ["resident", "ofw_contract"]
    assert pd.isna(p["of_status"].iloc[2]) and pd.isna(p["of_status"].iloc[5])  # blank, and 9 = DK
    assert p["of_status_src"].iloc[5] == "9"


def test_worked_example_problems_are_located(example):
    got = [(p.code, Path(p.source_file).name, p.source_row, p.column, p.value, p.action)
           for p in example.report.problems]
    assert got == [("MD201", "households.csv", 4, "psgc", "0499999000", "set_missing"),
                   ("MD504", "members.csv", 8, "sex", "X", "set_missing")]
    assert example.report.counts["persons"] == {"read": 7, "kept": 7, "rejected": 0}


def test_identifiers_dropped_unless_asked(example):
    cols = set(example.households.columns) | set(example.persons.columns)
    assert not cols & {"head_name", "phone", "name"}
    kept = import_files(FILES, PROFILE, keep_identifiers=True)
    assert kept.households["head_name"].iloc[0] == "Juan Dela Cruz"
    assert kept.persons["name"].iloc[1] == "Rosa"


def _profile(tmp_path, text: str) -> Path:
    p = tmp_path / "p.toml"
    p.write_text(text)
    return p


BASE = PROFILE.read_text()


@pytest.mark.parametrize("edit, where, needle", [
    (lambda t: t.replace('age = "age"', 'age = { from = "age", colour = "red" }'),
     "[tables.persons] column age", "unknown key(s) ['colour']"),
    (lambda t: t.replace('area = "psgc10"', 'area = "barangay"'),
     "[tables.households] column psgc", "choose one of region, psgc, psgc9, psgc10"),
    (lambda t: t.replace("[profile]", "[profil]"), "[profile]", "a [profile] table"),
    # the unclosed string ends at the end of line 14 (hand count in the fixture): column 15
    (lambda t: t.replace('hh_id = "hh_no"', 'hh_id = "hh_no'), "line 14, column 15", "TOML"),
    (lambda t: t.replace('from = "members"', 'origin = "members"'), "[tables.persons]", "unknown key(s) ['origin']"),
])
def test_bad_profiles_are_named(tmp_path, edit, where, needle):
    with pytest.raises(DataError) as ei:
        load_profile(_profile(tmp_path, edit(BASE)))
    assert ei.value.code == "MD501"
    assert ei.value.fields["where"] == where
    assert needle.lower() in ei.value.fields["reason"].lower()


def test_non_canonical_target_code(tmp_path):
    bad = BASE.replace('M = "male"', 'M = "man"')
    with pytest.raises(DataError) as ei:
        import_files(FILES, _profile(tmp_path, bad))
    assert ei.value.code == "MD505" and ei.value.fields["value"] == ["man"]


def test_raw_table_absent(tmp_path):
    bad = BASE.replace('from = "members"', 'from = "roster"')
    with pytest.raises(DataError) as ei:
        import_files(FILES, _profile(tmp_path, bad))
    assert ei.value.code == "MD502"
    assert ei.value.fields["available"] == "households, members"


def test_absent_items_stop_the_import_and_are_all_named(tmp_path):
    # a mapped item the file lacks is never an empty column: the import stops (MD520) naming
    # every absent item with the column it fills
    with pytest.raises(DataError) as ei:
        import_files(FILES, _profile(tmp_path, BASE.replace('line_no = "line"', 'line_no = "lineno"')))
    assert ei.value.code == "MD520" and ei.value.fields["items"] == ["lineno"]
    text = BASE.replace('age = "age"', 'age = "edad"').replace('line_no = "line"', 'line_no = "lineno"')
    with pytest.raises(DataError) as ei:
        import_files(FILES, _profile(tmp_path, text))
    assert sorted(ei.value.fields["items"]) == ["edad", "lineno"]
    assert "edad (persons.age)" in ei.value.message and "lineno (persons.line_no)" in ei.value.message
    assert ei.value.message == render("MD520", profile="lgu_survey_2024", file=ei.value.fields["file"],
                                      missing="lineno (persons.line_no), edad (persons.age)")
    # the engine alone (a caller that did not fit the profile first) still names it, MD503
    from migdata.importer import read_raw
    from migdata.profiles.engine import apply_profile
    prof = parse_profile(BASE.replace('age = "age"', 'age = "edad"'))
    raw, cb = read_raw(FILES, None)
    apply_profile(prof, raw, cb)
    assert [(p.column, p.value) for p in cb.report.problems if p.code == "MD503"] == [("age", "edad")]


def test_ranges_scale_default_and_missing(tmp_path):
    text = BASE.replace('age = "age"', 'age = "age"\nage_band = { from = "age", codes = { "0:14" = "child", "15:120" = "adult" } }')
    text = text.replace('cash_abroad = { from = "remit_php", dtype = "float" }',
                        'cash_abroad = { from = "remit_php", scale = 0.001 }')
    text = text.replace('urban_rural = { from = "urban", codes = { U = "urban", R = "rural" } }',
                        'urban_rural = { from = "urban", codes = { U = "urban" }, missing = ["R"], default = "rural" }')
    prof = load_profile(_profile(tmp_path, text))
    from migdata.importer import read_raw
    from migdata.profiles.engine import apply_profile

    raw, cb = read_raw(FILES, prof)
    out = apply_profile(prof, raw, cb)
    assert out["persons"]["age_band"].tolist() == ["adult", "adult", "child", "adult", "adult", "adult", "child"]
    assert out["households"]["cash_abroad"].tolist() == [15.0, 0.0, 5.0]
    assert out["households"]["urban_rural"].tolist() == ["urban", "rural", "urban"]
    assert not [p for p in cb.report.problems if p.column == "urban_rural"]


def test_hooks_from_a_file_and_hook_errors(tmp_path):
    (tmp_path / "myhooks.py").write_text(
        "def derive(tables, raw, codebook, report):\n"
        "    tables['persons']['age'] = tables['persons']['age'].astype(int) + 1\n"
        "    return tables\n")
    text = BASE.replace('complete_count = true', 'complete_count = true\nhooks = "myhooks.py"')
    data = import_files(FILES, _profile(tmp_path, text))
    assert data.persons["age"].tolist() == [46, 45, 13, 61, 31, 39, 11]
    (tmp_path / "myhooks.py").write_text("x = 1\n")
    with pytest.raises(DataError) as ei:
        import_files(FILES, _profile(tmp_path, text))
    assert ei.value.code == "MD508" and "derive" in ei.value.fields["reason"]


def test_profile_lookup_and_list():
    names = list_profiles()["name"].tolist()
    assert {"lfs_puf_2022", "popstan_census"} <= set(names)
    assert "lfs_puf_2022" in profiles_text()
    with pytest.raises(UsageError) as ei:
        load_profile("no_such_profile")
    assert ei.value.code == "MD500" and "lfs_puf_2022" in ei.value.fields["choices"]
    assert load_profile("lfs_puf_2022").raw_columns()["HHMEM"] >= {"PUFREG", "PUFHHNUM", "PUFC08_CONWR"}


def test_reader_registry():
    assert reader_for("x.sav") == "spss" and reader_for("x.dta") == "stata" and reader_for("x.dcf") == "cspro"
    with pytest.raises(UsageError) as ei:
        get_reader("punchcards")
    assert ei.value.code == "MD509"
    with pytest.raises(UsageError) as ei:
        reader_for("x.unknown")
    assert ei.value.code == "MD510"


def test_missing_files_and_bad_policy(tmp_path):
    with pytest.raises(DataError) as ei:
        import_files([tmp_path / "nope.csv"], PROFILE)
    assert ei.value.code == "MD001"
    with pytest.raises(UsageError) as ei:
        import_files([], PROFILE)
    assert ei.value.code == "MD512"
    with pytest.raises(UsageError):
        import_files(FILES, PROFILE, policy="sloppy")


def test_cspro_data_without_dictionary(tmp_path):
    (tmp_path / "a.dat").write_text("1234\n")
    with pytest.raises(MigdataError) as ei:
        import_files([tmp_path / "a.dat"], "popstan_census")
    assert ei.value.code == "MD511"


def test_codebook_of_a_dictionary_alone_and_to_excel(tmp_path):
    dcf = realfile("ph", "cbms", "HPQF2_DICT.dcf")
    text = dcf.read_text(encoding="utf-8-sig")
    n_items = len(re.findall(r"^\[Item\]\s*$", text, re.M))
    n_records = len(re.findall(r"^\[Record\]\s*$", text, re.M))
    ids = text[text.index("[IdItems]"):text.index("[Record]")]
    n_ids = len(re.findall(r"^\[Item\]\s*$", ids, re.M))
    cb = codebook_table(dcf)
    # one row per item and record; the case-id items are listed under every record
    assert len(cb) == n_items - n_ids + n_ids * n_records
    out = write_codebook(realfile("cspro", "popstan", "Census Dictionary.dcf"), tmp_path / "cb.xlsx")
    ws = openpyxl.load_workbook(out)["codebook"]
    header = [c.value for c in ws[1]]
    rows = {(r[header.index("table")], r[header.index("name")]): r for r in ws.iter_rows(min_row=2, values_only=True)}
    lab = rows[("PERSON", "P03_SEX")][header.index("value_labels")]
    assert lab == "1=Male; 2=Female"


def test_area_conversions():
    """Codes from DOMAIN.md 4.2: Laguna 0403400000 (correspondence 043400000); LFS region 4."""
    from migdata.readers.codebook import Codebook
    from migdata.profiles.engine import apply_profile

    prof = parse_profile('''
[profile]
name = "areas"
[tables.households]
from = "hh"
[tables.households.columns]
hh_id = "id"
psgc = { from = "code9", area = "psgc9" }
region = { from = "reg", area = "region", area_codes = { 15 = "1900000000" } }
''')
    raw = {"hh": pd.DataFrame({"id": ["a", "b", "c"], "code9": ["043400000", "42100000", "999999999"],
                               "reg": [4, 15, 99], "_source_row": [2, 3, 4]})}
    cb = Codebook("hh.csv", "csv")
    out = apply_profile(prof, raw, cb)["households"]
    assert out["psgc"].tolist()[:2] == ["0403400000", "0402100000"]  # Laguna; Cavite (leading zero lost)
    assert pd.isna(out["psgc"].iloc[2])
    assert out["region"].tolist()[:2] == ["0400000000", "1900000000"] and pd.isna(out["region"].iloc[2])
    # the lost zero of Cavite's code is repaired and said (MD203, kept); 999999999 is no code
    assert [(p.code, p.source_row, p.column, p.action) for p in cb.report.problems] == [
        ("MD203", 3, "psgc", "kept"), ("MD201", 4, "psgc", "set_missing"), ("MD506", 4, "region", "set_missing")]


@pytest.mark.parametrize("region, hhnum", [
    ([4, 4, 13, None, 1], [1, 99999, 250, 7, None]),      # fits: the byte-matrix path
    ([4, 4, 4, 13, 13, 13], [7, 7, None, 250, 250, 0]),   # members of a case: once per run
    ([4, -1, 13], [1, 2, 3]),                              # negative: the string path
    ([4, 4, 13], [1, 123456, 3]),                          # wider than 5: the string path
])
def test_concat_ids_equal_python_formatting(region, hhnum):
    """Household ids built by ``concat`` (widths 2 and 5) read as Python formats them; a
    missing part makes the id missing. Both the fast and the general path are exercised."""
    from migdata.profiles.engine import _Mapper
    from migdata.readers.codebook import Codebook

    raw = pd.DataFrame({"REG": pd.array(region, dtype="Int64"), "HH": pd.array(hhnum, dtype="Int64")})
    prof = parse_profile('[profile]\nname = "t"\nreader = "csv"\n[tables.persons]\nfrom = "x"\n'
                         '[tables.persons.columns]\nhh_id = "HH"\n', None)
    m = _Mapper(prof, "persons", raw, Codebook(source="t", format="csv", variables=[]), None, "x")
    got = m.column("hh_id", {"concat": ["REG", "HH"], "sep": "-", "widths": [2, 5]}).tolist()
    want = [None if r is None or h is None else f"{r:02d}-{h:05d}" for r, h in zip(region, hhnum)]
    assert [None if pd.isna(g) else g for g in got] == want


def test_columns_mapped_in_threads_report_exactly_as_one_at_a_time(monkeypatch):
    """The dirty CBMS sample (planted problems in many columns) gives the same report, entry
    for entry and in the same order, whether columns are mapped in threads or one by one."""
    from migdata.profiles import engine

    sample = Path(__file__).parents[1] / "sample_data" / "dirty"
    files = [sample / "cbms_2022_hpq_dirty.dat", sample / "cbms_2022_hpq_layout.dcf"]
    monkeypatch.setattr(engine, "_PARALLEL_ROWS", 10 ** 12)
    serial = import_files(files, "cbms_2022_hpq").report
    monkeypatch.setattr(engine, "_PARALLEL_ROWS", 0)
    threaded = import_files(files, "cbms_2022_hpq").report
    assert len(serial.problems) > 10
    assert [p.message for p in threaded.problems] == [p.message for p in serial.problems]


def _cspro_codebook_with_a_repeated_case(source: str):
    """A CSPro file's codebook whose reader found a case id in two blocks of lines (MD406)."""
    from migdata.readers.codebook import Codebook

    cb = Codebook(source, "cspro")
    cb.report.add("MD406", table="A", source_file=source, source_row=7, column="case id", value="1", action="kept")
    return cb


@pytest.mark.parametrize("files", [1, 2])
def test_a_repeated_case_joins_its_own_records(files):
    """Hand-made lines of one file (or the same lines in two files): case 1's persons (record
    A, line and occurrence) and their B records, case 2, then case 1 keyed again with another
    answer for person 1 and no B record for person 2. Each copy's persons take the B records of
    their own block: the later person 1 is female (line 8) and the later person 2 lacks a B
    record (MD507 at line 9, column B), as the streaming import, which sees the blocks in
    different chunks, joins them."""
    from migdata.profiles.engine import apply_profile

    prof = parse_profile('''
[profile]
name = "blocks"
reader = "csv"
[tables.persons]
from = "A"
join = ["B"]
keys = ["HH", "_occ"]
[tables.persons.columns]
hh_id = "HH"
line_no = "_occ"
sex = { from = "SEX", codes = { 1 = "male", 2 = "female" } }
''')
    a = pd.DataFrame({"HH": [1, 1, 2, 1, 1], "_occ": [1, 2, 1, 1, 2], "_source_row": [1, 3, 5, 7, 9]})
    b = pd.DataFrame({"HH": [1, 1, 2, 1], "_occ": [1, 2, 1, 1], "SEX": [1, 2, 1, 2], "_source_row": [2, 4, 6, 8]})
    want_sex = ["male", "female", "male", "female", None]
    want_507 = [9]
    if files == 2:  # line numbers start again in the second file: blocks are per file
        a = pd.concat([a.assign(_source_file="f1"), a.assign(_source_file="f2")], ignore_index=True)
        b = pd.concat([b.assign(_source_file="f1"), b.assign(_source_file="f2")], ignore_index=True)
        want_sex, want_507 = want_sex * 2, want_507 * 2
    cb = _cspro_codebook_with_a_repeated_case("blocks.dat")
    out = apply_profile(prof, {"A": a, "B": b}, cb)["persons"]
    assert [None if pd.isna(v) else v for v in out["sex"]] == want_sex
    assert [(p.code, p.source_row, p.column) for p in cb.report.problems if p.code != "MD406"] == [
        ("MD507", r, "B") for r in want_507]


def test_a_repeated_case_aggregates_its_first_block():
    """One row per case with a household weight that is the mean of its persons' weights: case
    1 (weights 10, 20), case 2 (30), case 1 keyed again (100, 200). The row kept for case 1 is
    its first, and so is its weight: (10 + 20) / 2 = 15, as a streaming import that reads the
    second copy in another chunk (and drops it as a duplicate) stores it; not the mean of all
    four (82.5), in a CSPro file whose reader found the case id twice (MD406)."""
    from migdata.profiles.engine import apply_profile
    from migdata.readers.codebook import Codebook

    prof = parse_profile('''
[profile]
name = "agg"
reader = "csv"
[tables.households]
from = "A"
one_per_case = true
keys = ["HH"]
[tables.households.columns]
hh_id = "HH"
weight = { from = "W", aggregate = "mean" }
''')
    a = pd.DataFrame({"HH": [1, 1, 2, 1, 1], "W": [10.0, 20, 30, 100, 200], "_source_row": [1, 2, 3, 4, 5]})
    out = apply_profile(prof, {"A": a}, _cspro_codebook_with_a_repeated_case("agg.dat"))["households"]
    assert out["weight"].tolist() == [15.0, 30.0]
    # in a CSV file a household's rows need not be together: all of them count, (10+20+100+200)/4
    out = apply_profile(prof, {"A": a}, Codebook("agg.csv", "csv"))["households"]
    assert out["weight"].tolist() == [82.5, 30.0]


def test_case_blocks_by_hand():
    """Lines 1-7 of one file, records A and B: case (1, 1) on lines 1-2, case (1, blank) on
    3-4 (a blank id part equals a blank, as the reader compares ids), (1, 1) again on 5, (2, 1)
    on 6 and (1, 1) on 7: blocks 0, 0, 1, 1, 2, 3, 4; the first of case (1, 1) is block 0. The
    same lines in a second file are blocks of their own (5-9, line numbers start again), and
    copies of the first file's cases, as one row per case keeps the first file's row."""
    from migdata.profiles.engine import CaseBlocks

    a = pd.DataFrame({"R": pd.array([1, 1, 2], dtype="Int16"), "H": pd.array([1, None, 1], dtype="Int16"),
                      "_source_row": [1, 3, 6]})
    b = pd.DataFrame({"R": pd.array([1, 1, 1, 1], dtype="Int16"), "H": pd.array([1, None, 1, 1], dtype="Int16"),
                      "_source_row": [2, 4, 5, 7]})
    cb = CaseBlocks.of_raw({"A": a, "B": b}, ["R", "H", "_occ"])
    assert cb.repeated
    assert cb.block(a).tolist() == [0, 1, 3] and cb.block(b).tolist() == [0, 1, 2, 4]
    assert cb.first(b).tolist() == [True, True, False, False]
    assert cb.block(pd.DataFrame({"_source_row": [8]})).tolist() == [-1]  # a line no table has
    two = {"A": pd.concat([a.assign(_source_file="f1"), a.assign(_source_file="f2")], ignore_index=True),
           "B": pd.concat([b.assign(_source_file="f1"), b.assign(_source_file="f2")], ignore_index=True)}
    cb2 = CaseBlocks.of_raw(two, ["R", "H"])
    assert cb2.block(two["B"]).tolist() == [0, 1, 2, 4, 5, 6, 7, 9]
    assert cb2.first(two["B"]).tolist() == [True, True, False, False] + [False] * 4
    # text ids (a CSV reader's) are compared as text; no repeated case: every row is a first
    c = pd.DataFrame({"ID": ["x", "x", "y"], "_source_row": [1, 2, 3]})
    cb3 = CaseBlocks.of_raw({"C": c}, ["ID"])
    assert not cb3.repeated and cb3.block(c).tolist() == [0, 0, 1] and cb3.first(c).all()


@pytest.mark.parametrize("seed", range(6))
def test_cases_only_a_joined_record_has_equal_the_merge(seed):
    """The cases that only a joined record type has (one row per case, their first) are those of
    ``drop_duplicates`` and a merge with an indicator, in the same order, on seeded tables: some
    cases in both, repeated records, an id part missing (the merge itself then)."""
    import numpy as np

    from migdata.profiles.engine import _cases_not_in

    rng = np.random.default_rng(seed)
    keys = ["R", "H"]
    n = int(rng.integers(0, 300))
    other = pd.DataFrame({"R": pd.array(rng.integers(1, 3, n), dtype="Int8"),
                          "H": pd.array(rng.integers(1, 80, n), dtype="Int16"),
                          "_source_row": np.arange(n) * 2 + 1, "V": rng.random(n)})
    m = int(rng.integers(0, 120))
    df = pd.DataFrame({"R": pd.array(rng.integers(1, 3, m), dtype="Int8"),
                       "H": pd.array(rng.integers(1, 80, m), dtype="Int16")}).drop_duplicates()
    if seed == 4 and n:
        other.loc[other.index[0], "H"] = pd.NA
    want = other.drop_duplicates(subset=keys, keep="first").merge(df[keys], on=keys, how="left", indicator=True)
    want = want.loc[want["_merge"] == "left_only", keys + ["_source_row"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(_cases_not_in(other, df, keys), want)
