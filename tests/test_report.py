"""The report's numbers without running a notebook: formatting, the collapse of small
categories, and a sample-survey dataset (intervals, flags, design domain)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from migdata.errors import UsageError
from migdata.model import HouseholdData
from migdata.report import MigrationProfile, collapse, fmt_ci, fmt_reliability, fmt_value, render_report


def test_formatting_by_measure_and_flag():
    assert fmt_value({"estimate": 12.345, "measure": "%", "flag": "publish"}) == "12.3%"
    assert fmt_value({"estimate": 12.345, "measure": "%", "flag": "caution"}) == "12.3%*"
    assert fmt_value({"estimate": 1234567.4, "measure": "PHP/year", "flag": "complete_count"}) == "PHP 1,234,567"
    assert fmt_value({"estimate": 7.0, "measure": "persons", "flag": "suppress", "suppressed": True}) == "S"
    assert fmt_ci({"flag": "publish", "measure": "%", "ci_low": 4.94, "ci_high": 10.91}) == "4.9% to 10.9%"
    assert fmt_ci({"flag": "complete_count"}) == "complete count: no sampling error"
    assert fmt_reliability({"flag": "caution", "cv": 0.214}) == "use with caution (CV 21%)"
    assert fmt_reliability({"flag": "complete_count", "suppressed": True, "suppression": "primary"}) \
        == "suppressed: fewer than 3 cases"


def test_collapse_keeps_top_shown_rows_and_sums_the_rest():
    t = pd.DataFrame({"c": list("abcdef"), "estimate": [40.0, 25.0, 20.0, 10.0, 3.0, 2.0],
                      "n": 200, "measure": "%", "flag": "complete_count", "suppression": "",
                      "suppressed": [False, False, False, False, True, True]})
    out = collapse(t, "c", 2, "other")
    assert out["c"].tolist() == ["a", "b", "other"]
    assert out["estimate"].tolist() == pytest.approx([40.0, 25.0, 35.0])  # 20 + 10 + 3 + 2
    counts = t.assign(measure="persons", estimate=[80, 50, 40, 20, 6, 4])
    assert collapse(counts, "c", 3, "other")["estimate"].tolist() == [80, 50, 40, 30]  # n = 200


@pytest.fixture(scope="module")
def survey() -> HouseholdData:
    """A hand-made sample survey: 2 provinces x 10 PSUs x 3 households, weight 100."""
    rng = np.random.default_rng(3)
    rows, people = [], []
    for p, prov in enumerate(["0403400000", "0401000000"]):
        for j in range(10):
            for h in range(3):
                hid = f"{p}{j}{h}"
                rows.append({"hh_id": hid, "weight": 100.0, "source": "test", "psu": f"{p}-{j}",
                             "stratum": prov, "region": "0400000000", "province": prov,
                             "city_mun": prov[:5] + "01000", "barangay": prov[:5] + "01001",
                             "cash_abroad": float(rng.integers(0, 2) * 50000)})
                for ln in (1, 2, 3, 4):
                    people.append({"hh_id": hid, "line_no": ln, "sex": ["male", "female"][ln % 2],
                                   "age": [45, 40, 20, 10][ln - 1],
                                   "relationship": ["head", "spouse", "child", "child"][ln - 1],
                                   "of_status": "ofw_contract" if (ln == 3 and rng.random() < 0.4) else "resident"})
    return HouseholdData({"households": pd.DataFrame(rows), "persons": pd.DataFrame(people)},
                         provenance={"design": {"strata": "stratum", "psu": "psu"}, "sources": ["test"]})


def test_survey_profile_shows_intervals_and_weighted_totals(survey):
    p = MigrationProfile.from_dataset(survey, "0400000000")
    head = p.headline().set_index("Measure")
    assert head.loc["Households", "Value"] == "6,000"  # 60 households x weight 100
    # an estimate of the design like any other (every PSU holds 3 households of weight 100: SE 0)
    assert head.loc["Households", "Reliability"] == "reliable (CV 0%)"
    ofw = int((survey.persons["of_status"] == "ofw_contract").sum()) * 100
    assert head.loc["Overseas Filipino workers (OFWs)", "Value"].rstrip("*") in (f"{ofw:,}", "S")
    assert "95% CI" in head.columns
    ci = head.loc["Households with an overseas Filipino member", "95% CI"]
    assert " to " in ci or ci == "–"


def test_survey_report_below_its_design_domain_is_refused_before_running(survey, tmp_path):
    store = survey.save(tmp_path / "store")
    with pytest.raises(UsageError) as e:
        render_report(store, "0403400000", tmp_path / "r.html")
    assert e.value.code == "MD809"
    assert "sample survey designed for estimates by region" in e.value.message
    with pytest.raises(UsageError) as e:
        MigrationProfile.from_dataset(survey, "0403400000")
    assert e.value.code == "MD809"


# --- maps of the areas below, and print -------------------------------------------------------
@pytest.fixture(scope="module")
def two_regions() -> HouseholdData:
    """A complete count written by hand: 10 households in a Laguna barangay, 10 in a Manila one;
    4 and 3 of them have an OFW (HH01: 40% and 30%), 5 of each receive cash from abroad."""
    rows, people = [], []
    where = {"0400000000": ("0403400000", "0403405000", "0403405001", 4),
             "1300000000": ("1380600000", "1380601000", "1380601001", 3)}
    for reg, (prov, city, bgy, n_of) in where.items():
        for h in range(10):
            hid = f"{reg[:2]}{h:02d}"
            rows.append({"hh_id": hid, "source": "test", "region": reg, "province": prov, "city_mun": city,
                         "barangay": bgy, "cash_abroad": 10000.0 if h < 5 else 0.0})
            for ln in (1, 2):
                people.append({"hh_id": hid, "line_no": ln, "sex": ["male", "female"][ln - 1], "age": 40,
                               "relationship": ["head", "spouse"][ln - 1],
                               "of_status": "ofw_contract" if (ln == 2 and h < n_of) else "resident"})
    return HouseholdData({"households": pd.DataFrame(rows), "persons": pd.DataFrame(people)},
                         provenance={"design": {"complete_count": True}, "sources": ["test"]})


def test_national_profile_maps_its_regions_from_its_own_rows(two_regions):
    from migdata import areas
    from migdata.indicators.catalogue import catalogue
    from migdata.publish import charts, maps

    p = MigrationProfile.from_dataset(two_regions, "PH")
    assert (p.below, p.map_area) == ("region", None)
    subs = p.sub_areas("HH01")
    assert dict(zip(subs["area_code"].astype(str), subs["estimate"])) == {"0400000000": 40.0, "1300000000": 30.0}
    fig = maps.choropleth(subs, "HH01", p.below, p.map_area, source=p.source_of("HH01"))
    regions = areas.reference().query("level == 'region'")
    assert len(regions) == 18        # PSGC: 17 regions and the Negros Island Region (2024)
    assert charts.title(fig) == (
        f"Map: {catalogue()['HH01'].name} (HH01), by region, Philippines: 18 regions; "
        f"highest {areas.name('0400000000')} (40.0%), lowest {areas.name('1300000000')} (30.0%); "
        "16 without data; 1 without a boundary.")   # the Negros Island Region is younger than the boundaries
    assert "No boundary in the map file for 1 region: Negros Island Region (NIR) (no data)" in charts.source_line(fig)
    assert f"Source: {p.source}. Areas: PSGC" in charts.source_line(fig)
    # a province's report maps its cities/municipalities; a barangay's has nothing below
    prov = MigrationProfile.from_dataset(two_regions, "0403400000")
    assert (prov.below, prov.map_area) == ("city", "0403400000")
    assert prov.sub_areas("RM01")["area_code"].astype(str).tolist() == ["0403405000"]
    bgy = MigrationProfile.from_dataset(two_regions, "0403405001")
    assert bgy.below is None and bgy.sub_areas("HH01").empty


def _mm(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(mm|in|cm)", value).groups()
    return float(number) * {"mm": 1.0, "cm": 10.0, "in": 25.4}[unit]


def test_print_css_fits_a4_and_letter_and_breaks_at_sections():
    from migdata.report import REPORT_CSS

    css = " ".join(REPORT_CSS.split())
    page = re.search(r"@page \{ margin: ([^;]+);", css)
    assert page, "an @page rule with margins"
    top, right, bottom, left = map(_mm, page.group(1).split())
    # no page size is forced (the reader's paper stays selectable); the text block and the
    # tallest chart fit both papers: A4 210 x 297 mm (ISO 216), Letter 215.9 x 279.4 mm
    assert "size:" not in css.split("@page", 1)[1].split("}", 1)[0]
    width = min(210.0, 215.9) - left - right
    height = min(297.0, 279.4) - top - bottom
    chart_max = _mm(re.search(r"img\.profile-chart \{[^}]*max-height: ([^;]+);", css).group(1))
    assert width >= 170 and chart_max <= height
    assert re.search(r"@bottom-\w+ \{ content: \"Page \" counter\(page\) \" of \" counter\(pages\)", css)
    printed = css.split("@media print", 1)[1]
    assert re.search(r"h2 \{ break-before: page;", printed)                 # every section on a new page
    assert re.search(r"img, figure, svg \{ break-inside: avoid;", printed)  # no chart cut
    assert re.search(r"tr, table\.profile-table td, table\.profile-table th \{ break-inside: avoid;", printed)
    assert "thead { display: table-header-group; }" in printed              # header on every page
