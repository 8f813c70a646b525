"""The three XLSForms: they convert with pyxform without errors or warnings, CBMS items carry the
CBMS 2022 codes (value sets re-read here from the real dictionary), the committed workbooks equal
their source, and build()/codebook() write what they promise."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from pyxform.xls2xform import convert

from migdata.errors import DataError, UsageError, render
from migdata.questionnaires.build import build
from migdata.questionnaires.codebook import codebook, codebook_frame
from migdata.questionnaires.form import load_form
from migdata.questionnaires.xlsform import FORMS, write_xlsform
from tests.conftest import ROOT, realfile

QDIR = ROOT / "questionnaires"


@pytest.mark.parametrize("name", FORMS)
def test_committed_xlsform_converts_without_errors_or_warnings(name):
    warnings: list[str] = []
    result = convert(str(QDIR / f"{name}.xlsx"), warnings=warnings)
    assert warnings == []
    assert "<h:html" in result.xform and f'id="{name}"' in result.xform


@pytest.mark.parametrize("name", FORMS)
def test_odk_validate_accepts_the_xform(name, tmp_path):
    if shutil.which("java") is None:
        pytest.skip("java is not installed: ODK Validate (bundled with pyxform) cannot run")
    warnings: list[str] = []
    convert(str(QDIR / f"{name}.xlsx"), warnings=warnings, validate=True)
    assert warnings == []


def _cells(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb}


@pytest.mark.parametrize("name", FORMS)
def test_committed_workbook_equals_its_source(name, tmp_path):
    fresh = write_xlsform(name, tmp_path / f"{name}.xlsx")
    assert _cells(fresh) == _cells(QDIR / f"{name}.xlsx"), \
        "regenerate with: python questionnaires/src/make_xlsforms.py"


@pytest.mark.parametrize("name", FORMS)
def test_forms_have_the_required_sheets_and_two_languages(name):
    wb = openpyxl.load_workbook(QDIR / f"{name}.xlsx")
    assert {"survey", "choices", "settings"} <= set(wb.sheetnames)
    header = [c.value for c in wb["survey"][1]]
    for col in ("label::English (en)", "label::Filipino (fil)", "relevant", "constraint",
                "constraint_message::English (en)", "constraint_message::Filipino (fil)", "required"):
        assert col in header
    settings = dict(zip([c.value for c in wb["settings"][1]], [c.value for c in wb["settings"][2]]))
    assert settings["form_id"] == name and settings["version"] and settings["default_language"] == "English (en)"


# -- CBMS 2022 codes ---------------------------------------------------------------------------

def _dcf_value_sets(path: Path) -> dict[str, list[str]]:
    """Item name -> codes of its value set(s), read straight from the CSPro text dictionary.

    An item may have several value sets (A02 has VS1 with the head alone, VS2 with the rest); ranges
    "a:b" expand to every code.
    """
    text = path.read_text(encoding="utf-8-sig").replace("\r", "")
    out: dict[str, list[str]] = {}
    item = None
    for block in text.split("\n["):
        head, _, body = block.partition("]\n")
        fields = [line.split("=", 1) for line in body.splitlines() if "=" in line]
        if head == "Item":
            item = dict(fields).get("Name")
        elif head == "ValueSet" and item in WANTED:
            codes = out.setdefault(item, [])
            for k, v in fields:
                if k != "Value":
                    continue
                code = v.split(";", 1)[0]
                if ":" in code:
                    a, b = (int(x) for x in code.split(":"))
                    if b - a > 10000:  # income ranges (0:999999999) are not code lists
                        continue
                    codes.extend(str(i) for i in range(a, b + 1))
                elif code.strip().lstrip("-").isdigit():
                    codes.append(str(int(code)))
    # union of an item's value sets (A05_SEX has VS1 plus male-only and female-only subsets)
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}


# CBMS items whose value sets the tests read
WANTED = {"A02_RELTOHHH", "A05_SEX", "A09_MSTAT", "B01_MIG", "B02_FYRSRESIDE", "B04_SMOSRESIDE",
          "B03_REASONFYRS", "B05_REASONSMOS", "B06_OFI", "B07_LEAVE_MONTH", "B01_COUNTRY4", "B08_STAY",
          "B10_PTSENDMNY", "K03_REMITTANCE",
          "E01_WORK", "E03_JOBBUS", "E25_PWLOOKEST", "E32_WILLINGTOWORK"}
# rider item -> CBMS dictionary item whose value set it must equal
SHARED_SELECTS = {
    "A02_RELTOHHH": "A02_RELTOHHH", "A05_SEX": "A05_SEX", "A09_MSTAT": "A09_MSTAT",
    "B01_MIG": "B01_MIG", "B02_FYRSRESIDE": "B02_FYRSRESIDE", "B04_SMOSRESIDE": "B04_SMOSRESIDE",
    "B03_REASONFYRS": "B03_REASONFYRS", "B05_REASONSMOS": "B05_REASONSMOS", "B06_OFI": "B06_OFI",
    "B07_LEAVE_MONTH": "B07_LEAVE_MONTH",
    # the country list exists once in the dictionary (B01_COUNTRY4) and serves every country item
    "B01_COUNTRY1": "B01_COUNTRY4", "B01_COUNTRY2": "B01_COUNTRY4", "B01_COUNTRY4": "B01_COUNTRY4",
    "B09_COUNTRY": "B01_COUNTRY4", "ret_country": "B01_COUNTRY4",
    "K03_REMITTANCE": "K03_REMITTANCE",
    "E01_WORK": "E01_WORK", "E03_JOBBUS": "E03_JOBBUS", "E25_PWLOOKEST": "E25_PWLOOKEST",
    "E32_WILLINGTOWORK": "E32_WILLINGTOWORK",
}
# integer rider items: (CBMS item, values the rider must accept) checked against the value set
SHARED_INTEGERS = ["B08_STAY", "B10_PTSENDMNY"]


@pytest.fixture(scope="module")
def cbms_sets():
    return _dcf_value_sets(realfile("ph", "cbms", "HPQF2_DICT.dcf"))


def test_dictionary_parse_sanity(cbms_sets):
    # published in DOMAIN.md §2.2: 26 relationship codes, 257 country codes (9001-9256 + 9997)
    assert len(cbms_sets["A02_RELTOHHH"]) == 26
    assert len(cbms_sets["B01_COUNTRY4"]) == 257 and cbms_sets["B01_COUNTRY4"][-1] == "9997"


@pytest.mark.parametrize("item", sorted(SHARED_SELECTS))
def test_rider_choice_codes_equal_cbms_2022(item, cbms_sets):
    form = load_form("cbms_migration_rider")
    el = form.element(item)
    assert form.choice_names(el.list_name) == cbms_sets[SHARED_SELECTS[item]]


@pytest.mark.parametrize("item", SHARED_INTEGERS)
def test_rider_integer_constraints_accept_exactly_the_cbms_value_set(item, cbms_sets):
    from migdata.questionnaires.xpath import truthy

    el = load_form("cbms_migration_rider").element(item)
    allowed = set(cbms_sets[item])
    for v in range(-5, 400):
        assert truthy(el.constraint, {}, current=str(v)) == (str(v) in allowed), (item, v)


def test_other_forms_share_the_cbms_lists(cbms_sets):
    of = load_form("overseas_filipino_survey")
    assert of.choice_names("cbms_country") == cbms_sets["B01_COUNTRY4"]
    assert of.choice_names("of_type") == cbms_sets["B06_OFI"][:6]  # 1-6: the OF codes of B06
    clb = load_form("children_left_behind_survey")
    assert clb.choice_names("cbms_country") == cbms_sets["B01_COUNTRY4"]


def test_rider_universes_follow_cbms_skip_rules():
    f = load_form("cbms_migration_rider")
    for item in ("B01_MIG", "B02_FYRSRESIDE", "B04_SMOSRESIDE"):
        assert f.element(item).relevant == "${A07_AGE} >= 5"
    assert f.element("B06_OFI").relevant == "${A07_AGE} >= 15"
    assert "'1'" in f.element("B07_LEAVE_MONTH").relevant and "'2'" in f.element("B08_STAY").relevant
    assert "'5'" not in f.element("B10_PTSENDMNY").relevant  # tourists are not asked B10


def test_clb_consent_and_assent_come_first_and_gate_the_rest():
    f = load_form("children_left_behind_survey")
    data = [e for e in f.questions() if e.type not in ("start", "end", "today")]
    assert [e.name for e in data[:2]] == ["consent", "assent"]
    for e in data[2:]:
        rules = " ".join(e.relevant_chain + ((e.relevant,) if e.relevant else ()))
        assert "${consent} = '1'" in rules, e.name


def test_no_names_collected():
    for name in FORMS:
        for e in load_form(name).questions():
            assert not re.search(r"(^|_)(name|phone|address)($|_)", e.name), (name, e.name)


# -- build and codebook -----------------------------------------------------------------------

def test_build_writes_one_xform_per_form(tmp_path):
    paths = build(tmp_path / "xml")
    assert [p.name for p in paths] == [f"{n}.xml" for n in FORMS]
    for p in paths:
        assert p.read_text(encoding="utf-8").startswith("<?xml")


def test_build_unknown_form_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as e:
        build(tmp_path, forms=["census_2030"])
    assert e.value.code == "MD600"
    assert str(e.value) == render("MD600", form="census_2030", choices=", ".join(FORMS))


def test_build_reports_a_broken_xlsform(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label"])
    ws.append(["select_one nolist", "q1", "Q1"])
    bad = tmp_path / "bad.xlsx"
    wb.save(bad)
    with pytest.raises(DataError) as e:
        build(tmp_path / "out", forms=[bad])
    assert e.value.code == "MD601" and "bad.xlsx" in str(e.value)


def test_build_fails_on_warnings(tmp_path):
    # a label in one language only: pyxform warns, and a warning must fail the build
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label::English (en)", "label::Filipino (fil)", "hint::English (en)"])
    ws.append(["text", "q1", "Q1", "T1", "only English hint"])
    p = tmp_path / "warn.xlsx"
    wb.save(p)
    with pytest.raises(DataError) as e:
        build(tmp_path / "out", forms=[p])
    assert e.value.code == "MD602"


def test_codebook_rows_and_formula_safety(tmp_path):
    out = codebook(tmp_path / "cb.xlsx")
    wb = openpyxl.load_workbook(out)
    ws = wb["codebook"]
    header = [c.value for c in ws[1]]
    assert header[:7] == ["form", "variable", "name", "question", "question_fil", "type", "choices"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    # count, straight from the committed workbooks, the survey rows that hold data
    expected = 0
    for name in FORMS:
        for r in openpyxl.load_workbook(QDIR / f"{name}.xlsx")["survey"].iter_rows(min_row=2, values_only=True):
            typ = (r[0] or "").split(" ")[0]
            expected += typ not in ("note", "begin_group", "end_group", "begin_repeat", "end_repeat", "")
    assert len(rows) == expected
    assert [r[0] for r in rows].count("cbms_migration_rider") == len(codebook_frame(["cbms_migration_rider"]))
    b06 = [r for r in rows if r[2] == "B06_OFI"][0]
    assert b06[1] == "members/B06_OFI" and b06[6].startswith("1=Yes, overseas Filipino worker")
    # the one formula guard (publish/safe.py): text is kept exactly, stored as text with Excel's
    # quote prefix when it could start a formula; no cell is a formula; empty cells stay empty
    risky = 0
    for row in ws.iter_rows(min_row=2):
        for c in row:
            assert c.data_type != "f" and c.value != "'" and c.value != "", (c.coordinate, c.value)
            if isinstance(c.value, str) and c.value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                risky += 1
                assert c.data_type == "s" and c.quotePrefix, (c.coordinate, c.value)


def test_codebook_guards_planted_formula_text_and_keeps_empty_cells_empty(tmp_path):
    # a form whose labels start like formulas (a tab-led one included) and whose hint is empty
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label", "hint"])
    labels = ["=HYPERLINK(\"http://x\")", "+63 phone", "-5 or less", "@home", "plain"]
    for i, lab in enumerate(labels):
        ws.append(["text", f"q{i}", lab, None])
        ws.cell(row=i + 2, column=3).data_type = "s"  # the form holds the text, not a formula
    form = tmp_path / "planted.xlsx"
    wb.save(form)
    out = openpyxl.load_workbook(codebook(tmp_path / "cb.xlsx", forms=[form]))["codebook"]
    header = [c.value for c in out[1]]
    col = header.index("question") + 1
    cells = [out.cell(row=r, column=col) for r in range(2, 2 + len(labels))]
    assert [c.value for c in cells] == labels  # kept exactly, no apostrophe or space added
    assert [bool(c.quotePrefix) for c in cells] == [True] * 4 + [False]
    assert all(c.data_type == "s" for c in cells)
    # empty cells (no constraint, no calculation, no repeat) are empty, not a lone apostrophe
    empty = [out.cell(row=2, column=header.index(h) + 1).value for h in ("constraint", "calculation", "repeat")]
    assert empty == [None, None, None]


def test_codebook_needs_xlsx_suffix(tmp_path):
    with pytest.raises(UsageError) as e:
        codebook(tmp_path / "cb.csv")
    assert e.value.code == "MD603"
