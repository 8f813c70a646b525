"""The one-command demo and the migration profile report it writes.

One small seeded sample (300 households) is generated and the demo runs once per session; the
report tests read the region report it wrote and check its numbers against counts made here
directly from the dataset store with pandas (not with migdata's indicator code).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("papermill", reason="the notebook extras (papermill) are not installed")
bs4 = pytest.importorskip("bs4", reason="beautifulsoup4 (an nbconvert dependency) is needed")

import migdata  # noqa: E402
from migdata.demo import run_demo  # noqa: E402
from migdata.errors import MigdataError, UsageError, render  # noqa: E402

OF = ["ofw_contract", "ofw_no_contract", "embassy_staff", "student", "tourist", "other_of"]
OFW = ["ofw_contract", "ofw_no_contract"]


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    from migdata.sample import generate

    out = tmp_path_factory.mktemp("sample")
    generate(out, households=300, seed=11, dirty=True, survey=False, kobo=False)
    return out


@pytest.fixture(scope="session")
def demo(tmp_path_factory, small_sample) -> tuple[Path, list[Path], list[str]]:
    out = tmp_path_factory.mktemp("demo")
    messages: list[str] = []
    files = run_demo(out, progress=messages.append, sample=small_sample, level="province", by=("sex",))
    return out, files, messages


def test_demo_writes_store_workbook_and_reports(demo):
    out, files, messages = demo
    names = {f.name for f in files}
    assert {"database.json", "indicators.xlsx", "report_calabarzon.html", "report_laguna.html"} <= names
    for f in files:
        assert f.exists() and f.stat().st_size > 0, f
    assert (out / "database" / "database.json") in files
    assert (out / "indicators.xlsx").read_bytes()[:2] == b"PK"  # an xlsx is a zip
    # the closing list of files, after the step messages
    assert messages[0].startswith("[1/4]")
    done = next(i for i, m in enumerate(messages) if m.startswith("Done in"))
    assert [m.strip() for m in messages[done + 1:]] == [str(f) for f in files]


def test_demo_rejects_a_folder_without_data(tmp_path):
    with pytest.raises(MigdataError) as e:
        run_demo(tmp_path / "out", progress=lambda s: None, sample=tmp_path)
    assert e.value.code == "MD808"
    assert e.value.message == render("MD808", path=tmp_path)


# --- the region report ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def region_report(demo):
    out, _, _ = demo
    html = (out / "report_calabarzon.html").read_text(encoding="utf-8")
    return bs4.BeautifulSoup(html, "html.parser"), html


@pytest.fixture(scope="session")
def store(demo):
    return migdata.load(demo[0] / "database").dataset("cbms")


def _headline(soup) -> dict[str, str]:
    table = soup.find("table", class_="profile-table")
    rows = {}
    for tr in table.find_all("tr")[1:]:
        cells = [td.get_text(" ", strip=True) for td in tr.find_all("td")]
        rows[cells[0]] = cells[1]
    return rows


def test_report_has_every_section_and_no_code(region_report):
    soup, html = region_report
    headings = [h.get_text(" ", strip=True).rstrip("¶").strip() for h in soup.find_all(["h1", "h2"])]
    assert headings[0] == "Migration profile: Region IV-A (CALABARZON)"
    for section in ["1. Headline numbers", "2. Overseas Filipinos by sex and age",
                    "3. Where overseas Filipino workers are",
                    "4. Households with members abroad and households receiving cash from abroad",
                    "5. Uses of remittances",
                    "6. Overseas Filipinos: work, earnings, remittances, savings and plans",
                    "7. Children with a parent abroad", "8. Moving within the Philippines",
                    "9. Return migrants", "10. Survey estimates beside the census counts",
                    "11. Data quality and reliability"]:
        assert section in headings
    assert "import migdata" not in html and "P.headline()" not in html  # no code cells
    assert "Traceback" not in html and "Error" not in soup.get_text()
    imgs = soup.find_all("img")
    assert len(imgs) >= 5 and all(i["src"].startswith("data:image/png;base64,") for i in imgs)
    assert all(i.get("alt") for i in imgs)
    # every chart carries a source line: the dataset's source appears under the charts
    assert "cbms_2022_hpq 2022 (complete count)" in soup.get_text()


def test_report_headline_numbers_match_the_store(region_report, store):
    soup, _ = region_report
    hh, pp = store.households, store.persons
    of_status = pp["of_status"].astype(str)
    adults = pp["age"] >= 15
    n_of = int((adults & of_status.isin(OF)).sum())
    n_ofw = int((adults & of_status.isin(OFW)).sum())
    cash = pd.to_numeric(hh["cash_abroad"], errors="coerce")
    head = _headline(soup)
    # the report shows published numbers: counts within the cell-key method's maximum error (3),
    # shares computed from such counts, money totals within 20 % of the largest single amount
    num = lambda k: float(head[k].replace("PHP", "").replace(",", "").replace("%", ""))  # noqa: E731

    def share_near(text: str, part: int, whole: int) -> bool:
        lo = 100 * max(part - 3, 0) / (whole + 3)
        hi = 100 * min(part + 3, whole + 3) / max(whole - 3, 1)
        return lo - 0.05 <= num(text) <= hi + 0.05

    assert abs(num("Households") - len(hh)) <= 3
    assert abs(num("Household population (all ages, overseas members included)") - len(pp)) <= 3
    assert abs(num("Overseas Filipinos (15 years and over)") - n_of) <= 3
    assert abs(num("Overseas Filipino workers (OFWs)") - n_ofw) <= 3
    assert share_near("Households with an overseas Filipino member",
                      pp.loc[of_status.isin(OF), "hh_id"].nunique(), len(hh))
    assert share_near("Households receiving cash from abroad", int((cash > 0).sum()), int(cash.notna().sum()))
    assert abs(num("Cash received from abroad in the past 12 months") - cash[cash > 0].sum()) \
        <= 0.2 * cash.max() + 0.5
    # (a tighter "within 1 point of the true share" used to follow: it is not a property of the
    # cell-key method, whose bound on a share is share_near's, and it failed for some of the
    # random disclosure keys an import draws: 13.0 % published for 12.0 %, within the bound)


def test_report_data_quality_section_shows_import_counts(region_report, store):
    soup, _ = region_report
    text = soup.get_text(" ", strip=True)
    assert "complete count" in text
    c = store.report.counts["persons"]
    assert f"persons {c['read']:,} {c['kept']:,} {c['rejected']:,}" in text  # the rows-read table
    assert "The import found no problems" in text or "problem(s)" in text


def test_province_report_names_its_region(demo):
    out, _, _ = demo
    soup = bs4.BeautifulSoup((out / "report_laguna.html").read_text(encoding="utf-8"), "html.parser")
    text = soup.get_text(" ", strip=True)
    assert "Migration profile: Laguna" in text
    assert "Province in Region IV-A (CALABARZON)" in text
    alts = [img.get("alt") for img in soup.find_all("img")]
    assert "Migrant households: Laguna compared" in alts  # charts carry their title as alt text


# --- area checks (no notebook run) ---------------------------------------------------------------
def test_unknown_area_code_suggests_close_codes(demo):
    from migdata.report import render_report

    out = demo[0]
    with pytest.raises(UsageError) as e:
        render_report(out / "database", "0403400001", out / "x.html")
    assert e.value.code == "MD810"  # not a PSGC code at all
    assert "close matches: 0403400000 Laguna" in e.value.message  # one digit away
    assert e.value.exit_code == 2
    assert not (out / "x.html").exists()


def test_area_given_as_a_name_suggests_its_code(store):
    from migdata.report import resolve_area

    with pytest.raises(UsageError) as e:
        resolve_area(store.households, "Laguna")
    assert e.value.code == "MD801"
    assert "0403400000 Laguna" in e.value.message


def test_malformed_code_is_a_usage_error(store):
    from migdata.report import resolve_area

    with pytest.raises(UsageError) as e:
        resolve_area(store.households, "04034")
    assert e.value.code == "MD801"
    assert e.value.message.startswith(render("MD801", value="04034", suggestions="")[:60])


def test_area_outside_the_dataset(store):
    from migdata.report import resolve_area

    with pytest.raises(UsageError) as e:
        resolve_area(store.households, "1380100000")  # Caloocan (NCR): a real PSGC, not in the data
    assert e.value.code == "MD802"
    assert "(City of Caloocan)" in e.value.message


def test_resolve_area_levels_and_parents(store):
    from migdata.report import resolve_area

    hh = store.households
    bgy = str(hh["barangay"].iloc[0])
    a = resolve_area(hh, bgy)
    assert a.level == "barangay"
    assert a.parents == {"region": str(hh["region"].iloc[0]), "province": str(hh["province"].iloc[0]),
                         "city_mun": str(hh["city_mun"].iloc[0])}
    assert resolve_area(hh, "0400000000").level == "region"


# --- maps of the areas below, the first page, print ----------------------------------------------
LAGUNA = "0403400000"


@pytest.fixture(scope="session")
def laguna_report(demo):
    html = (demo[0] / "report_laguna.html").read_text(encoding="utf-8")
    return bs4.BeautifulSoup(html, "html.parser"), html


def _alts(soup) -> list[str]:
    return [img.get("alt", "") for img in soup.find_all("img")]


def test_reports_map_their_areas_one_level_down(region_report, laguna_report):
    from migdata.indicators.catalogue import catalogue

    cat = catalogue()
    # PSA: CALABARZON is 5 provinces and the highly urbanised City of Lucena; Laguna has 6 cities
    # and 24 municipalities
    for (soup, _), level, where, count in ((region_report, "province/HUC", "Region IV-A (CALABARZON)",
                                            "6 provinces and HUCs"),
                                           (laguna_report, "city/municipality", "Laguna",
                                            "30 cities and municipalities")):
        alts = _alts(soup)
        for ind in ("HH01", "RM01"):
            want = f"Map: {cat[ind].name} ({ind}), by {level}, {where}: {count}"
            assert sum(a.startswith(want) for a in alts) == 1, (want, alts)
        assert not any(", areas of " in a for a in alts)      # the dot plot of areas is gone
        text = soup.get_text(" ", strip=True)
        assert "Hatched areas are hidden" in text


def test_laguna_bars_show_the_publishable_cells_of_the_workbook(demo, laguna_report, tmp_path):
    from migdata.cli import main
    from migdata.indicators.catalogue import catalogue

    out = tmp_path / "cities.xlsx"
    with pytest.raises(SystemExit) as e:
        main(["indicators", str(demo[0] / "database"), "--out", str(out), "--csv", "--level", "city",
              "--ids", "HH01,RM01", "--by", "none"])
    assert e.value.code == 0
    book = pd.read_csv(out.with_suffix(".csv"), dtype={"area_code": str, "parent_code": str},
                       keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    alts = _alts(laguna_report[0])
    for ind in ("HH01", "RM01"):
        # the report takes household counts from CBMS, the stream every household is in
        rows = book[(book["indicator_id"] == ind) & (book["stream"] == "cbms") & (book["area_level"] == "city")
                    & (book["parent_code"] == LAGUNA)]
        hidden = rows["suppressed"].astype(str).str.lower() == "true"
        shown = rows[~hidden].sort_values(["estimate", "area_code"], ascending=[False, True], kind="stable")
        counts = [f"{n} {w}" for n, w in ((int(hidden.sum()), "suppressed"), (30 - len(rows), "without data")) if n]
        want = (f"Bar chart: {catalogue()[ind].name} ({ind}), cities and municipalities of Laguna: "
                f"{len(shown)} of 30 cities and municipalities shown" + (f"; {', '.join(counts)}" if counts else "")
                + f"; highest {shown['area_name'].iloc[0]} ({shown['estimate'].iloc[0]:.1f}%)")
        assert sum(a.startswith(want) for a in alts) == 1, (want, alts)


def test_first_page_lists_the_streams_and_rounds(demo, laguna_report):
    soup, _ = laguna_report
    db = migdata.load(demo[0] / "database")
    data = next(p for p in soup.find_all("p") if p.get_text().startswith("Data:"))
    entries = db.datasets()
    if len(entries) > 1:          # one line each
        assert f"this report draws on {len(entries)} datasets" in data.get_text()
        items = [li.get_text(" ", strip=True) for li in data.find_next("ul").find_all("li")]
    else:
        items = [data.get_text(" ", strip=True)]
    assert len(items) == len(entries)
    for e, item in zip(entries, items):
        assert str(e.get("round") or "") in item


CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


@pytest.mark.skipif(CHROMIUM is None or shutil.which("pdftotext") is None or shutil.which("pdfimages") is None,
                    reason="printing is checked with headless Chromium and poppler-utils (pdftotext, pdfimages)")
@pytest.mark.parametrize("paper", ["A4", "letter"])
def test_laguna_report_prints_on_a4_and_letter(demo, laguna_report, tmp_path, paper):
    soup, html = laguna_report
    # the reader's choice of paper in the print dialog, as a style the browser applies on top
    page = tmp_path / "report.html"
    page.write_text(html.replace("</head>", f"<style>@page {{ size: {paper}; }}</style></head>", 1), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
                          f"--print-to-pdf={pdf}", page.as_uri()], capture_output=True, text=True, timeout=180)
    assert pdf.exists(), run.stderr[-2000:]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert re.search(rf"Page size: .* pts \({paper}\)", info), info     # pdfinfo names the paper
    n = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    pages = [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), "-layout", str(pdf), "-"],
                            capture_output=True, text=True).stdout for i in range(1, n + 1)]
    firsts = [" ".join(next((ln for ln in p.splitlines() if ln.strip()), "").split()) for p in pages]
    # page 1: the title, the data used, how to read; every numbered section starts a page
    assert firsts[0] == "Migration profile: Laguna" and "Data:" in pages[0]
    assert "Headline numbers" not in pages[0]
    sections = [h.get_text(" ", strip=True).rstrip("¶").strip() for h in soup.find_all("h2")]
    assert len(sections) == 11
    for s in sections:
        assert any(f.startswith(" ".join(s.split()[:4])) for f in firsts), s
    assert all(f"Page {i} of {n}" in p for i, p in enumerate(pages, start=1))
    # each chart is printed once, on one page: none is cut across pages
    listed = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True).stdout.splitlines()[2:]
    assert sum(line.split()[2] == "image" for line in listed) == len(soup.find_all("img"))


# --- progress ------------------------------------------------------------------------------------
def test_demo_progress_is_plain_lines(demo):
    _, _, messages = demo
    assert not any("\r" in m for m in messages)
    # each report's notebook cells, as lines every 10 % (no terminal here), indented under step 4
    done = [m for m in messages if re.fullmatch(r" {6}running 03_migration_profile\.ipynb: 100 %", m)]
    assert len(done) == 2, messages
    assert any(re.fullmatch(r" {6}indicators: 100 %", m) for m in messages)


def test_indicators_and_report_show_bars_in_a_terminal(demo, tmp_path):
    import os
    import sys

    from test_progress import BAR_TIMES, ROOT, _run_in_pty

    env = dict(os.environ, MIGDATA_PROGRESS_DELAY="0", PYTHONPATH=str(ROOT))
    db = str(demo[0] / "database")
    for args, step in ((["indicators", db, "--level", "province", "--by", "none", "--ids", "HH01,RM01",
                         "--out", str(tmp_path / "t.xlsx")], "indicators"),
                       (["report", db, "--area", LAGUNA, "--out", str(tmp_path / "laguna.html")],
                        "running 03_migration_profile.ipynb")):
        out = _run_in_pty([sys.executable, "-m", "migdata.cli", *args], env)
        bars = [part for part in out.split("\r") if part.startswith(step + ":")]
        assert any(" 100%|" in part and BAR_TIMES.search(part) for part in bars), out
        assert "Wrote " in out
