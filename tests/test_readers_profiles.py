"""End-to-end: the readers' profiles (example_user_csv, ipums_generic) through migdata.importer.

Expected values are hand counts of the example CSV (written out below) and, for IPUMS, counts
and weights taken straight from the extract's fixed-width lines or from ipumspy.
"""

from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from migdata.errors import DataError
from migdata.importer import import_files
from migdata.profiles.ipums_generic import relationship_codes
from tests.conftest import realfile

PROFILES = Path(__file__).resolve().parents[1] / "migdata" / "profiles"
EXAMPLE = PROFILES / "examples" / "pagsanjan_household_survey_2024.csv"
EXAMPLE_PROFILE = PROFILES / "example_user_csv.toml"


def test_example_user_csv_end_to_end():
    data = import_files(EXAMPLE, EXAMPLE_PROFILE)
    p, h = data.persons, data.households
    # the example file: 4 households with 4, 3, 3 and 2 members
    assert len(p) == 12 and len(h) == 4
    assert p.groupby("hh_id").size().tolist() == [4, 3, 3, 2]
    counts = p["of_status"].value_counts()
    # OFW with contract: Mark, Ramon; without: Joy; student abroad: Ana; residents: Rosa, Liza,
    # Paolo, Nestor, Cora, Luz; not asked (blank): Ella and Jun
    assert (counts["ofw_contract"], counts["ofw_no_contract"], counts["student"], counts["resident"]) == (2, 1, 1, 6)
    assert p["of_status"].isna().sum() == 2
    # months abroad: 30, 98 (don't know -> missing), 14, 8
    abroad = p[p["of_status"].isin(["ofw_contract", "ofw_no_contract", "student"])]
    assert [None if pd.isna(v) else int(v) for v in abroad["months_abroad"]] == [30, None, 14, 8]
    assert sorted(abroad["of_country"].tolist()) == ["ARE", "JPN", "QAT", "SAU"]
    assert h["cash_abroad"].sum() == 120000 + 90000 + 0 + 25000
    assert h.set_index("hh_id").loc["0003", "psgc"] == "0403419004"
    assert (p["sex"] == "female").sum() == 7
    assert p["relationship"].value_counts()["head"] == 4
    assert "name" not in p.columns and "phone" not in h.columns
    assert not data.report.problems
    data.report.check_balance()


def test_example_user_csv_keeps_identifiers_on_request():
    data = import_files(EXAMPLE, EXAMPLE_PROFILE, keep_identifiers=True)
    assert data.persons["name"].iloc[0] == "Rosa Dela Cruz"


def test_example_user_csv_bad_value_is_located(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace("0002,0403419002,2,Liza Santos,2,F,",
                                                       "0002,0403419002,2,Liza Santos,2,X,")
    bad = tmp_path / "survey.csv"
    bad.write_text(text, encoding="utf-8")
    data = import_files(bad, EXAMPLE_PROFILE)
    (prob,) = [p for p in data.report.problems if p.column == "sex"]
    assert prob.code == "MD504" and prob.source_row == 9 and prob.value == "X"  # Liza is on line 9
    assert len(data.persons) == 12 and data.persons["sex"].isna().sum() == 1


def test_ipums_generic_rectangular():
    from ipumspy import readers

    path = realfile("ipums", "usa_00172.xml")
    data = import_files(path, "ipums_generic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ddi = readers.read_ipums_ddi(str(path))
        peer = readers.read_microdata(ddi, str(path.with_name("usa_00172.dat.gz")))
    p, h = data.persons, data.households
    assert len(p) == len(peer) == 33057
    assert len(h) == len(peer.drop_duplicates(["SAMPLE", "SERIAL"]))
    assert p["weight"].sum() == pytest.approx(peer["PERWT"].sum())
    assert h["weight"].sum() == pytest.approx(peer.drop_duplicates(["SAMPLE", "SERIAL"])["HHWT"].sum())
    assert (p["sex"] == "female").sum() == (peer["SEX"] == 2).sum()
    assert p["age"].astype(int).tolist() == peer["AGE"].astype(int).tolist()


def test_ipums_generic_hierarchical_household_weights(tmp_path):
    src = realfile("ipums", "cps_00421.dat.gz")
    shutil.copy(realfile("ipums", "cps_00421.xml"), tmp_path / "cps_00421.xml")
    with gzip.open(src, "rt", encoding="iso-8859-1") as f:
        lines = [next(f) for _ in range(4000)]
    with gzip.open(tmp_path / "cps_00421.dat.gz", "wt", encoding="iso-8859-1") as f:
        f.writelines(lines)
    data = import_files(tmp_path / "cps_00421.xml", "ipums_generic")
    # from the lines themselves (DDI positions): SERIAL cols 6-10, HWTFINL cols 13-22 (4 decimals)
    hw = {int(l[5:10]): int(l[12:22]) / 10_000 for l in lines if l.startswith("H")}
    persons_serials = {int(l[5:10]) for l in lines if l.startswith("P")}
    h = data.households
    assert len(h) == len(persons_serials)  # households with at least one person
    serial = h["hh_id"].str.split("-").str[1].astype(int)
    assert h["weight"].tolist() == pytest.approx([hw[s] for s in serial])
    assert len(data.persons) == sum(1 for l in lines if l.startswith("P"))


def test_relationship_codes_by_label_words():
    # IPUMS USA RELATE general codes and labels (IPUMS USA codebook)
    usa = {1: "Head/Householder", 2: "Spouse", 3: "Child", 4: "Child-in-law", 5: "Parent",
           6: "Parent-in-Law", 7: "Sibling", 8: "Sibling-in-Law", 9: "Grandchild",
           10: "Other relatives", 11: "Partner, friend, visitor", 12: "Other non-relatives",
           13: "Institutional inmates"}
    assert relationship_codes(usa) == {
        1: "head", 2: "spouse", 3: "child", 4: "child_in_law", 5: "parent", 6: "parent_in_law",
        7: "sibling", 8: "sibling_in_law", 9: "grandchild", 10: "other_relative",
        11: "non_relative", 12: "non_relative", 13: None}


KOBO_PROFILE = """
[profile]
name = "kobocruncher_test"
reader = "kobo_xlsx"
complete_count = true

[reader]
form = "{form}"

[tables.persons]
from = "members"
join = ["main"]

[tables.persons.columns]
hh_id = "_submission__uuid"
line_no = "_repeat_position"
sex = {{ from = "sex", codes = {{ male = "male", female = "female" }} }}
age = "age"
relationship = {{ from = "relationship" }}

[tables.households]
from = "main"

[tables.households.columns]
hh_id = "_submission__uuid"
weight = {{ value = 1.0 }}
"""


def test_kobo_xlsx_through_a_profile(tmp_path):
    form = realfile("kobo", "kobocruncher", "sample_xlsform.xlsx")
    prof = tmp_path / "kobo.toml"
    prof.write_text(KOBO_PROFILE.format(form=form))
    # the form has no relationship question: the profile does not fit the file (MD520) ...
    with pytest.raises(DataError) as ei:
        import_files(realfile("kobo", "kobocruncher", "data.xlsx"), prof)
    assert ei.value.code == "MD520" and ei.value.fields["items"] == ["relationship"]
    # ... unless it says the item is optional: the column is then imported empty (required) with a note
    prof.write_text(KOBO_PROFILE.format(form=form).replace('relationship = {{ from = "relationship" }}'.format(),
                                                           'relationship = { from = "relationship", optional = true }'))
    data = import_files(realfile("kobo", "kobocruncher", "data.xlsx"), prof)
    p, h = data.persons, data.households
    assert len(h) == 5 and len(p) == 12  # realdata README
    # household sizes 1, 5, 3, 1, 2 (members sheet) in submission order; 7 males, 5 females
    sizes = p.groupby("hh_id", sort=False).size()
    assert sizes.loc[h["hh_id"]].tolist() == [1, 5, 3, 1, 2]
    assert p["line_no"].tolist() == [1, 1, 2, 3, 4, 5, 1, 2, 3, 1, 1, 2]
    assert ((p["sex"] == "male").sum(), (p["sex"] == "female").sum()) == (7, 5)
    assert data.report.problems == [] and p["relationship"].isna().all()
    assert sum("relationship" in n for n in data.report.notes) == 1
