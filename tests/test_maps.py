"""Choropleth maps and sorted area bars, read back from the figure (and its SVG).

The indicator table is written here by hand for Laguna's 30 cities and municipalities, so
every expected class, hatch and count is a hand count on it.
"""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from migdata import areas
from migdata.errors import UsageError, render
from migdata.publish import charts
from migdata.publish import maps

matplotlib.use("Agg")

LAGUNA = "0403400000"


def _laguna_table() -> tuple[pd.DataFrame, dict[str, str]]:
    """HH02 for Laguna's cities/municipalities: 3 zeros, values 1..20, 2 suppressed,
    2 to use with caution (values 7 and 18), 3 without a row (no data)."""
    ar = areas.children(LAGUNA, "city_mun").sort_values("psgc").reset_index(drop=True)
    assert len(ar) == 30
    kind: dict[str, str] = {}
    rows = []
    for i, (code, name) in enumerate(zip(ar["psgc"], ar["name"])):
        if i < 3:
            est, k = 0.0, "zero"
        elif i < 23:
            est, k = float(i - 2), "value"          # 1 .. 20
        elif i < 25:
            est, k = np.nan, "suppressed"
        elif i < 27:
            est, k = [7.5, 18.5][i - 25], "caution"
        else:
            kind[code] = "no_data"
            continue
        kind[code] = k
        rows.append({"indicator_id": "HH02", "name": "Households with an OFW", "area_level": "city",
                     "area_code": code, "area_name": name, "parent_code": LAGUNA, "sex": "Total",
                     "category": "", "estimate": est, "se": 0.0, "ci_low": est, "ci_high": est,
                     "cv": np.nan, "n": 50.0, "flag": "caution" if k == "caution" else "complete_count",
                     "suppressed": k == "suppressed", "suppression": "primary" if k == "suppressed" else "",
                     "unit": "household", "measure": "%", "source": "CBMS 2022 (test)", "period": "2022"})
    # a female row of each area, which the map must not mix in (it maps sex = Total)
    t = pd.DataFrame(rows)
    t = pd.concat([t, t.assign(sex="female", estimate=99.0)], ignore_index=True)
    return t, kind


def _collection(fig, gid: str):
    for c in fig.axes[0].collections:
        if c.get_gid() == gid:
            return c
    return None


def _expected_class(v: float) -> int:
    # hand classes, k=5: 0 alone; positives 1..20 and 7.5, 18.5 (22 values) in 4 quantile classes
    pos = np.sort(np.array(list(range(1, 21)) + [7.5, 18.5]))
    q = np.quantile(pos, [0.25, 0.5, 0.75])
    if v == 0:
        return 0
    return 1 + int(sum(v > e for e in q))


def test_fill_colours_are_the_classes_of_the_values():
    t, kind = _laguna_table()
    fig = maps.choropleth(t, "HH02", "city", LAGUNA)
    coll = _collection(fig, "map-areas")
    codes = coll.area_codes
    fills = {c: tuple(np.round(fc, 6)) for c, fc in zip(codes, coll.get_facecolors())}
    pal = [tuple(np.round(to_rgba(c), 6)) for c in maps.palette(5)]
    est = t[t["sex"] == "Total"].set_index("area_code")["estimate"]
    white = tuple(np.round(to_rgba("#ffffff"), 6))
    for code in codes:
        k = kind[code]
        if k in ("zero", "value", "caution"):
            assert fills[code] == pal[_expected_class(float(est[code]))], code
        else:
            assert fills[code] == white, code
    # zero is a value (the lightest class), never the white of "no data"
    zero = [c for c in codes if kind[c] == "zero"]
    assert zero and all(fills[c] == pal[0] != white for c in zero)


def test_palette_prints_in_order_in_greyscale():
    # relative luminance (sRGB, ITU-R BT.709 weights) computed here: strictly falling
    def lum(c):
        r, g, b = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in to_rgba(c)[:3]]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    ls = [lum(c) for c in maps.palette(5)]
    assert all(a > b for a, b in zip(ls, ls[1:]))
    assert ls[0] < 0.9 * lum("#ffffff")        # the lightest class is not mistaken for no data


def test_suppressed_and_caution_areas_carry_their_hatch():
    t, kind = _laguna_table()
    fig = maps.choropleth(t, "HH02", "city", LAGUNA)
    sup = _collection(fig, "map-suppressed")
    cau = _collection(fig, "map-caution")
    drawn = set(_collection(fig, "map-areas").area_codes)
    assert set(sup.area_codes) == {c for c, k in kind.items() if k == "suppressed"} & drawn
    assert set(cau.area_codes) == {c for c, k in kind.items() if k == "caution"} & drawn
    assert sup.get_hatch() == maps.SUPPRESSED_HATCH and cau.get_hatch() == maps.CAUTION_HATCH
    assert _collection(fig, "map-areas").get_hatch() is None
    labels = [x.get_text() for x in fig.legends[0].get_texts()]
    assert "Suppressed (too few cases\nor unreliable): 2" in labels
    assert "Use with caution (CV 20-30%): 2" in labels
    assert "No data: 3" in labels
    assert fig.legends[0].get_title().get_text() == "% of households"


def test_every_area_of_the_level_is_drawn_or_named():
    t, kind = _laguna_table()
    fig = maps.choropleth(t, "HH02", "city", LAGUNA)
    drawn = set(_collection(fig, "map-areas").area_codes)
    everyone = set(areas.children(LAGUNA, "city_mun")["psgc"])
    # the shipped file has no shape for the City of San Pedro: named under the map instead
    san_pedro = areas.search("San Pedro", level="city").query("name == 'City of San Pedro'")["psgc"].item()
    assert drawn == everyone - {san_pedro}
    footer = charts.source_line(fig)
    assert "No boundary in the map file for 1 city/municipality: City of San Pedro" in footer
    assert fig.migdata_problems["value"].tolist() == [san_pedro]
    assert fig.migdata_problems["code"].tolist() == ["MD214"]


def test_title_source_release_and_alt_text():
    t, _ = _laguna_table()
    fig = maps.choropleth(t, "HH02", "city", LAGUNA)
    assert fig.axes[0].get_title(loc="left").replace("\n", " ") == \
        "Households with an OFW, by city/municipality, Laguna"
    footer = charts.source_line(fig).replace("\n", " ")
    assert "Source: CBMS 2022 (test), 2022." in footer
    assert f"Areas: PSGC {areas.release()}." in footer
    assert "UN OCHA" in footer and "philippines-json-maps (MIT)" in footer
    alt = charts.title(fig)
    assert alt.startswith("Map: Households with an OFW (HH02), by city/municipality, Laguna: 30 cities")
    assert "2 suppressed" in alt and "3 without data" in alt and "2 to use with caution" in alt


def test_svg_fills_are_the_classes_of_the_values(tmp_path):
    from matplotlib.colors import to_hex

    t, kind = _laguna_table()
    fig = maps.choropleth(t, "HH02", "city", LAGUNA)
    path = tmp_path / "map.svg"
    charts.save(fig, str(path))
    svg = path.read_text(encoding="utf-8")
    for gid in ("map-areas", "map-suppressed", "map-caution", "map-legend"):
        assert f'id="{gid}"' in svg
    # the areas group: one filled path per drawn area (29 = 30 - San Pedro), in the order
    # of the collection's area codes; each fill is the hex colour of its hand-made class
    group = svg.split('id="map-areas"', 1)[1].split("</g>", 1)[0]
    fills = re.findall(r'<path [^>]*style="fill: (#[0-9a-f]{6})', group)
    codes = _collection(fig, "map-areas").area_codes
    assert len(fills) == len(codes) == 29
    pal = [to_hex(c) for c in maps.palette(5)]
    est = t[t["sex"] == "Total"].set_index("area_code")["estimate"]
    for code, fill in zip(codes, fills):
        want = pal[_expected_class(float(est[code]))] if kind[code] in ("zero", "value", "caution") else "#ffffff"
        assert fill == want, code
    # the suppressed overlay: hatched paths, one per drawn suppressed area
    sup = svg.split('id="map-suppressed"', 1)[1].split("</g>", 1)[0]
    assert len(re.findall(r"<path ", sup)) == len(_collection(fig, "map-suppressed").area_codes)
    assert "url(#h" in sup            # filled with a hatch pattern


def test_classes_by_hand():
    assert maps.classify(np.array([0, 0, 1, 2, 3, 10.0]), k=3).tolist() == [0.0, 0.0, 2.5, 10.0]
    assert maps.class_of(np.array([0, 1, 2.5, 3, 10.0, np.nan]), np.array([0.0, 0.0, 2.5, 10.0])).tolist() \
        == [0, 1, 1, 2, 2, -1]
    # fewer distinct values than classes: one class per value
    assert maps.classify(np.array([5.0, 5.0, 7.0]), k=5).tolist() == [5.0, 7.0]
    assert maps.classify(np.array([np.nan])).tolist() == []


def test_a_category_must_be_chosen_and_rows_must_exist():
    t, _ = _laguna_table()
    with pytest.raises(UsageError) as e:
        maps.choropleth(t, "HH99", "city", LAGUNA)
    assert e.value.code == "MD720" and e.value.message == render(
        "MD720", indicator="HH99", level="city", levels="none", ids="HH02")
    dist = t.assign(indicator_id="OF05", category=np.where(t.index % 2 == 0, "saudi_arabia", "japan"))
    with pytest.raises(UsageError) as e:
        maps.choropleth(dist, "OF05", "city", LAGUNA)
    assert e.value.code == "MD721" and "saudi_arabia" in e.value.message
    fig = maps.choropleth(dist, "OF05", "city", LAGUNA, category="japan")
    assert charts.title(fig).startswith("Map: Households with an OFW, japan (OF05)")


def test_by_cell_is_chosen():
    t, kind = _laguna_table()
    fig = maps.choropleth(t, "HH02", "city", LAGUNA, by={"sex": "female"})
    # every female row is 99 (suppressed ones too: their flag is kept), one class
    assert fig.migdata_breaks.tolist() == [99.0]


def test_area_bars_sort_the_publishable_areas():
    t, kind = _laguna_table()
    fig = maps.area_bars(t, "HH02", "city", LAGUNA)
    names = [x.get_text() for x in fig.axes[0].get_yticklabels()]
    total = t[t["sex"] == "Total"]
    pub = total[~total["suppressed"]].sort_values(["estimate", "area_code"], ascending=[False, True])
    assert names == pub["area_name"].tolist()
    assert len(names) == 25                      # 30 - 2 suppressed - 3 without data
    footer = charts.source_line(fig)
    assert "25 of 30 cities and municipalities shown; 2 suppressed, 3 without data" in footer
    values = [x.get_text() for x in fig.axes[0].texts]
    assert "18.5%*" in values and "7.5%*" in values      # caution marked


def test_charts_module_gives_the_map_functions():
    assert charts.choropleth is maps.choropleth and charts.area_bars is maps.area_bars


def test_table_area_not_in_the_reference_is_reported():
    t, _ = _laguna_table()
    bad = t.iloc[:1].assign(area_code="0403499000", area_name="Nowhere")
    fig = maps.choropleth(pd.concat([t, bad], ignore_index=True), "HH02", "city", LAGUNA)
    p = fig.migdata_problems
    assert p[p["code"] == "MD722"]["message"].tolist() == [
        render("MD722", value="0403499000", name="Nowhere", level="city")]


def test_map_command_from_an_indicator_csv(tmp_path, capsys):
    from migdata.cli import main
    from migdata.publish.excel import write_csv

    t, kind = _laguna_table()
    csv = write_csv(t, tmp_path / "t.csv")
    with pytest.raises(SystemExit) as e:
        main(["map", str(csv), "--indicator", "HH02", "--level", "city", "--area", LAGUNA,
              "--out", str(tmp_path / "m.svg"), "--bars", str(tmp_path / "b.png")])
    out = capsys.readouterr()
    assert e.value.code == 0, out.err
    assert (tmp_path / "m.svg").exists() and (tmp_path / "b.png").exists()
    assert out.out.splitlines() == [f"Wrote {tmp_path / 'm.svg'}", f"Wrote {tmp_path / 'b.png'}"]
    # the one area the shipped boundaries cannot draw is a note, with its located message
    assert out.err.count("Note: [MD214]") == 1 and "City of San Pedro" in out.err
    # the map drawn from the CSV has the same classes as the one drawn from the table
    svg = (tmp_path / "m.svg").read_text(encoding="utf-8")
    group = svg.split('id="map-areas"', 1)[1].split("</g>", 1)[0]
    from matplotlib.colors import to_hex

    pal = [to_hex(c) for c in maps.palette(5)]
    fills = re.findall(r'style="fill: (#[0-9a-f]{6})', group)
    assert sum(f == pal[0] for f in fills) == 3          # the three zeros


def test_map_command_usage_errors(tmp_path, capsys):
    from migdata.cli import main
    from migdata.publish.excel import write_csv

    t, _ = _laguna_table()
    csv = write_csv(t.assign(indicator_id="OF05", category="japan"), tmp_path / "t.csv")
    with pytest.raises(SystemExit) as e:
        main(["map", str(csv), "--indicator", "OF05", "--level", "city", "--area", LAGUNA,
              "--out", str(tmp_path / "m.png")])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.strip() == "Error: " + render("MD721", indicator="OF05", given="no category was given",
                                            choices="japan")
    assert not (tmp_path / "m.png").exists()
    with pytest.raises(SystemExit) as e:
        main(["map", str(csv), "--indicator", "OF05", "--level", "city", "--by", "sex", "--out",
              str(tmp_path / "m.png")])
    assert e.value.code == 2 and "COLUMN=VALUE" in capsys.readouterr().err


def test_area_bars_keep_the_highest_when_there_are_many():
    t, kind = _laguna_table()
    fig = maps.area_bars(t, "HH02", "city", LAGUNA, top=5)
    names = [x.get_text() for x in fig.axes[0].get_yticklabels()]
    total = t[t["sex"] == "Total"]
    pub = total[~total["suppressed"]].sort_values(["estimate", "area_code"], ascending=[False, True])
    assert names == pub["area_name"].tolist()[:5]
    assert "5 of 30 cities and municipalities shown (the 5 highest of 25 with a value)" in charts.source_line(fig)


def _database_table() -> pd.DataFrame:
    """The Laguna table as a local migration database gives it: a stream and a design column,
    and HH02 from a second stream (a survey) whose every value is 50."""
    t, _ = _laguna_table()
    cbms = t.assign(stream="cbms", design="complete count")
    survey = t.assign(stream="of_survey", design="stratified sample", estimate=50.0, suppressed=False)
    return pd.concat([cbms, survey], ignore_index=True)


def test_a_database_table_maps_one_stream():
    both = _database_table()
    with pytest.raises(UsageError) as e:
        maps.choropleth(both, "HH02", "city", LAGUNA)
    assert e.value.code == "MD723"
    assert e.value.message == render("MD723", indicator="HH02", level="city", streams="cbms, of_survey")
    # one stream chosen: the classes of that stream's values (the survey's single value: one class)
    fig = maps.choropleth(both, "HH02", "city", LAGUNA, by={"stream": "of_survey"})
    assert fig.migdata_breaks.tolist() == [50.0]
    # a table of one stream (what the report passes): its stream and design columns are not
    # disaggregations, so every area with a row keeps its value
    _, kind = _laguna_table()
    one = both[both["stream"] == "cbms"]
    fig = maps.choropleth(one, "HH02", "city", LAGUNA)
    coll = _collection(fig, "map-areas")
    white = tuple(np.round(to_rgba("#ffffff"), 6))
    filled = [c for c, fc in zip(coll.area_codes, coll.get_facecolors()) if tuple(np.round(fc, 6)) != white]
    assert sorted(filled) == sorted(c for c in coll.area_codes if kind[c] in ("zero", "value", "caution"))


def test_area_bars_alt_text_counts_what_is_shown():
    t, kind = _laguna_table()
    fig = maps.area_bars(t, "HH02", "city", LAGUNA)
    ar = areas.children(LAGUNA, "city_mun").sort_values("psgc").reset_index(drop=True)
    # hand: the highest value is 20 (the 23rd area), the lowest shown a zero: of the three zeros
    # (the first three areas) the last in the table's order, as ties keep it
    assert charts.title(fig) == (
        "Bar chart: Households with an OFW (HH02), cities and municipalities of Laguna: 25 of 30 cities "
        f"and municipalities shown; 2 suppressed, 3 without data; highest {ar['name'][22]} (20.0%), "
        f"lowest shown {ar['name'][2]} (0.0%).")
    everything_hidden = maps.area_bars(t.assign(suppressed=True), "HH02", "city", LAGUNA)
    assert charts.title(everything_hidden).endswith(
        ": 0 of 30 cities and municipalities shown; 27 suppressed, 3 without data.")
    assert [x.get_text() for x in everything_hidden.axes[0].get_yticklabels()] == []   # no bar
