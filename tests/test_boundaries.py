"""Boundaries: the shipped files, reading other GeoJSON/shapefiles, and matching their codes to
the PSGC reference through the release crosswalk.

Expected values come from outside the matching code: the source GeoJSON files in
../shared/realdata/ph/boundaries (read here with plain ``json``), the reference's own rows
(looked up by name), PSA facts in DOMAIN.md §4.2 (3,993 Region IV-A barangays; Calaca and
Carmona became cities; Bacoor's 44 old barangay codes were replaced by 18 new ones,
0402103076 ...), and small files written in the tests.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import realfile
from migdata import areas
from migdata.areas import boundaries as B
from migdata.errors import DataError, render


def _ref_code(name: str, level: str) -> str:
    hits = areas.search(name, level=level)
    return str(hits[hits["name"] == name]["psgc"].iloc[0])


def _source_features(pattern: str, prefix: str) -> dict[str, dict]:
    """The realdata source's features by 10-digit code (plain json, no migdata code)."""
    folder = realfile("ph", "boundaries")          # skips the test when the folder is absent
    out = {}
    for path in sorted(folder.glob(pattern)):
        for f in json.loads(path.read_text(encoding="utf-8")).get("features", []):
            code = f["properties"].get(f"{prefix}_psgc")
            if code is not None:
                out[str(code).zfill(10)] = f
    return out


# --- the shipped boundaries ---------------------------------------------------------------

def test_every_region_iva_barangay_is_matched_and_drawn_or_named():
    layer = B.map_areas("barangay", "0400000000")
    # DOMAIN §4.2: 3,993 barangays in Region IV-A (Q3-2025), every one an area of the map
    assert len(layer.areas) == 3993
    drawn = layer.areas["geometry"].notna()
    missing = set(layer.areas.loc[~drawn, "psgc"])
    # each area without a shape is a located problem (MD214: in the file, without a shape)
    assert set(layer.problems["value"]) == missing
    assert set(layer.problems["code"]) == {"MD214"}
    assert all(m.startswith("[MD214]") and "feature" in m for m in layer.problems["message"])


@pytest.mark.realdata
def test_areas_without_a_shape_are_those_the_source_has_without_geometry():
    src = _source_features("barangays_iva/*.json", "adm4")
    assert len(src) == 3993
    null = {c for c, f in src.items() if not f.get("geometry")}
    layer = B.map_areas("barangay", "0400000000")
    assert set(layer.areas.loc[layer.areas["geometry"].isna(), "psgc"]) == null


def _source_names() -> dict[str, tuple[str, str, str]]:
    """Every feature of the realdata source, all levels: code -> (level, English name, parent
    province code), read with plain ``json`` (files without features are skipped)."""
    folder = realfile("ph", "boundaries")
    out = {}
    for pattern, level, key in (("regions_ph.json", "region", "adm1"), ("provinces/*.json", "province", "adm2"),
                                ("municipalities/*.json", "city", "adm3"),
                                ("barangays_iva/*.json", "barangay", "adm4")):
        for path in sorted(folder.glob(pattern)):
            for f in json.loads(path.read_text(encoding="utf-8")).get("features", []):
                props = f["properties"]
                out[str(props[f"{key}_psgc"]).zfill(10)] = (level, props.get(f"{key}_en") or "",
                                                             str(props.get("adm2_psgc") or "").zfill(10))
    return out


@pytest.mark.realdata
def test_matching_counts_on_the_shipped_boundaries():
    """How every code of the Dec 2023 boundaries meets the reference, counted from the source
    files and the reference table with plain set operations, by hand rules: a code the
    reference has is the same unit (renamed when its name differs in more than case and
    punctuation); the provinces moved to the Negros Island Region and Sulu's move to Region IX
    (2024, DOMAIN §4.2) recode them and every unit under them; nothing else is mapped."""
    import re

    src = _source_names()
    ref = areas.reference().set_index("psgc")
    m = B.match().set_index("code")
    lucena = _ref_code("City of Lucena", "city")
    # every source feature is a row of the match; one more: Lucena, drawn from its barangays
    assert set(m.index) == set(src) | {lucena}
    assert lucena not in src and len(m) == len(src) + 1

    def letters(name: str) -> str:
        return re.sub(r"[^a-z0-9]", "", name.lower())

    kept = {c for c in src if c in ref.index}
    renamed = {c for c in kept if letters(src[c][1]) != letters(ref.at[c, "name"])}
    assert len(renamed) == 4                     # 'Rizal' -> 'Dr. Jose P. Rizal', 3 barangays
    assert set(m.index[m["change"].eq("renamed")]) == renamed
    assert (m.loc[sorted(kept), "psgc"] == sorted(kept)).all()
    moved = {"0604500000", "0704600000", "0706100000", "1906600000"}   # Negros Occ./Or., Siquijor, Sulu
    # regions whose provinces changed: the moved provinces' old regions and Sulu's new one
    regions = {c[:2] + "00000000" for c in moved} | {str(ref.at[m.at["1906600000", "psgc"], "region"])}
    assert set(m.index[m["change"].eq("boundary_changed")]) == regions == {
        "0600000000", "0700000000", "0900000000", "1900000000"}
    # a file level the reference gives another name: the City of Isabela sits at the province
    # position of the file and is "special" in the reference (PSGC: not a province)
    levels = {"region": {"region"}, "province": {"province"}, "city": {"city", "municipality"},
              "barangay": {"barangay"}}
    other = {c for c in kept if ref.at[c, "level"] not in levels[src[c][0]]}
    assert [ref.at[c, "name"] for c in other] == ["City of Isabela (Not a Province)"]
    assert set(m.index[m["change"].eq("reclassified")]) == other
    assert (m.loc[sorted(kept - renamed - regions - other), "change"] == "same").all()
    # recoded: the moved provinces and the units of their files, each to a reference code of
    # the same name
    under = {c for c, (lv, _, prov) in src.items() if c in moved or (lv == "city" and prov in moved)}
    assert under.isdisjoint(kept)
    recoded = m[m["change"].eq("recoded")]
    assert set(recoded.index) == under
    by_level = recoded.groupby("level").size().to_dict()
    assert by_level == {"province": 4, "city": 18, "municipality": 63}        # 12 + 6 cities; 19+19+6+19 towns
    assert all(letters(ref.at[new, "name"]) == letters(src[old][1]) for old, new in recoded["psgc"].items())
    # the rest is not mapped and is named: NCR's four districts (no longer PSGC units) and
    # BARMM's Special Geographic Area under its 2023 code (not one-to-one with the 2025 one)
    rest = set(src) - kept - under
    assert set(m.index[m["psgc"].isna()]) == rest
    assert sorted(m.loc[sorted(rest), "change"]) == ["abolished"] * 4 + ["unmapped"]
    assert m.loc[sorted(rest)].query("change == 'abolished'").index.str.startswith("13").all()


def test_bacoor_barangays_are_the_new_codes_all_matched():
    # DOMAIN §4.2: Bacoor's barangays were consolidated into new codes from 0402103076; the
    # Dec 2023 boundaries already use them, so every Bacoor barangay is paired "same".
    bacoor = _ref_code("City of Bacoor", "city")
    layer = B.map_areas("barangay", bacoor)
    codes = set(layer.areas["psgc"])
    assert codes == set(areas.children(bacoor, "barangay")["psgc"])
    new = {c for c in codes if c >= "0402103076"}
    assert len(new) == 18
    m = B.match().set_index("code")
    assert set(m.loc[sorted(codes), "change"]) == {"same"}
    assert layer.areas["geometry"].notna().all()


def test_calaca_and_carmona_are_cities_in_both_releases():
    m = B.match().set_index("code")
    for name in ("City of Calaca", "City of Carmona"):
        code = _ref_code(name, "city")
        assert (m.at[code, "psgc"], m.at[code, "change"], m.at[code, "level"]) == (code, "same", "city")


def test_negros_island_region_and_sulu_are_paired_by_correspondence_code():
    # the Dec 2023 file codes Negros Occidental in region VI and Sulu in BARMM; the reference
    # (2025) has them in the Negros Island Region and in Region IX under other codes
    m = B.match().set_index("code")
    for old, name in (("0604500000", "Negros Occidental"), ("0704600000", "Negros Oriental"),
                      ("0706100000", "Siquijor"), ("1906600000", "Sulu")):
        new = _ref_code(name, "province")
        assert new != old
        assert (m.at[old, "psgc"], m.at[old, "change"]) == (new, "recoded")
    layer = B.map_areas("province", _ref_code("Negros Island Region (NIR)", "region"))
    drawn = layer.areas[layer.areas["geometry"].notna()]
    assert sorted(drawn["name"]) == ["Negros Occidental", "Negros Oriental", "Siquijor"]
    # the City of Bacolod (HUC, at the province position) has no shape of its own in the file
    bacolod = _ref_code("City of Bacolod", "city")
    assert layer.problems[["code", "value"]].values.tolist() == [["MD215", bacolod]]


def test_renamed_barangay_is_matched():
    # source name "Concepcion No. 1"; the reference says "Concepcion 1" (same code)
    code = "0405645013"
    m = B.match().set_index("code")
    assert m.at[code, "name"] == "Concepcion No. 1"
    assert areas.name(code) == "Concepcion 1"
    assert (m.at[code, "psgc"], m.at[code, "change"]) == (code, "renamed")


def test_national_maps_name_what_they_cannot_draw():
    regions = B.map_areas("region")
    # the reference has 18 regions; the 2023 file has no Negros Island Region (created 2024)
    assert len(regions.areas) == len(areas.reference().query("level == 'region'"))
    nir = _ref_code("Negros Island Region (NIR)", "region")
    assert regions.problems[["code", "value"]].values.tolist() == [["MD215", nir]]
    provinces = B.map_areas("province")
    ncr_districts = provinces.problems[provinces.problems["code"].eq("MD213")
                                       & provinces.problems["name"].astype(str).str.contains("District")]
    assert len(ncr_districts) == 4          # NCR's districts are no longer PSGC units
    assert all("abolished" in m for m in ncr_districts["message"])


def test_lucena_is_the_union_of_its_barangays():
    # City of Lucena: the source has its barangays only; its shape is their union, so its
    # area equals the sum of theirs (shoelace areas computed here)
    def area(geom) -> float:
        total = 0.0
        for poly in B.polygons(geom):
            for j, r in enumerate(poly):
                x, y = r[:, 0], r[:, 1]
                a = abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2
                total += a if j == 0 else -a
        return total

    f = B.shipped().features.set_index("code")
    lucena = _ref_code("City of Lucena", "city")
    parts = f[f.index.str.startswith(lucena[:7]) & f["level"].eq("barangay")]
    assert len(parts) == len(areas.children(lucena, "barangay"))
    assert area(f.at[lucena, "geometry"]) == pytest.approx(sum(area(g) for g in parts["geometry"]), rel=1e-6)


def test_saved_match_equals_a_fresh_crosswalk():
    b = B.shipped()
    fresh = B.compute_match(b).reset_index(drop=True)
    saved = B.match(b).reset_index(drop=True)
    for col in ("code", "psgc", "change", "note"):
        assert fresh[col].astype(object).where(fresh[col].notna(), None).tolist() == \
            saved[col].astype(object).where(saved[col].notna(), None).tolist(), col


def test_level_areas_count_an_huc_at_province_and_city_level():
    prov = B.level_areas("province", "0400000000")
    # DOMAIN §4.2: five provinces and the City of Lucena (HUC) at the province position
    assert sorted(prov["name"]) == sorted(["Batangas", "Cavite", "Laguna", "Quezon", "Rizal", "City of Lucena"])
    cities = B.level_areas("city", "0400000000")
    assert len(cities) == 142       # 22 cities + 120 municipalities (DOMAIN §4.2)
    quezon = _ref_code("Quezon", "province")
    # Lucena (an HUC) is not a city of Quezon province, as in the indicator tables
    assert set(B.level_areas("city", quezon)["psgc"]) == set(areas.children(quezon, "city_mun")["psgc"])
    assert _ref_code("City of Lucena", "city") not in set(B.level_areas("city", quezon)["psgc"])
    with pytest.raises(Exception) as e:
        B.level_areas("district", "0400000000")
    assert e.value.code == "MD208"


# --- other boundary files ------------------------------------------------------------------

def _square(x: float, y: float, d: float = 0.01) -> list:
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def _write_geojson(path, features):
    doc = {"type": "FeatureCollection",
           "features": [{"type": "Feature", "properties": p, "geometry": {"type": "Polygon", "coordinates": g}}
                        for p, g in features]}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_geojson_of_another_release_reports_merged_codes(tmp_path):
    # Bacoor's first two barangays under their pre-2023 codes (PSGC wide list c. 2022: the
    # 44 codes 0402103001.. were replaced, DOMAIN §4.2), Carmona as a municipality, and a
    # barangay of Alaminos stored as a number (leading zero lost)
    p = _write_geojson(tmp_path / "old.geojson", [
        ({"BRGY_CODE": "0402103001", "NAME": "Old Bacoor 1"}, _square(120.9, 14.4)),
        ({"BRGY_CODE": "0402103002", "NAME": "Old Bacoor 2"}, _square(120.92, 14.4)),
        ({"BRGY_CODE": "PH0402104000", "NAME": "Carmona", "level": "Mun"}, _square(121.0, 14.3, 0.05)),
        ({"BRGY_CODE": 403401001, "NAME": "Alaminos brgy"}, _square(121.2, 14.0)),
    ])
    b = B.read_boundaries(p, code_field="BRGY_CODE", name_field="NAME")
    assert b.features["code"].tolist() == ["0402103001", "0402103002", "0402104000", "0403401001"]
    m = B.compute_match(b).set_index("code")
    # two old codes gone, and under Bacoor every current code is absent from this file: more
    # new codes than old, which the crosswalk calls a split; never guessed, never mapped
    assert m.loc[["0402103001", "0402103002"], "change"].tolist() == ["split", "split"]
    assert m.loc[["0402103001", "0402103002"], "psgc"].isna().all()
    assert (m.at["0402104000", "change"], m.at["0402104000", "psgc"]) == ("reclassified", "0402104000")
    assert m.at["0403401001", "psgc"] == "0403401001"
    layer = B.map_areas("barangay", _ref_code("City of Bacoor", "city"), boundaries=b)
    md213 = layer.problems[layer.problems["code"] == "MD213"]
    assert sorted(md213["value"]) == ["0402103001", "0402103002"]
    assert md213["message"].iloc[0] == render(
        "MD213", file=str(p), feature=1, value="0402103001", name="Old Bacoor 1", old_release="boundary file",
        new_release=areas.release(), change="split", note=m.at["0402103001", "note"])
    # none of Bacoor's current barangays is in this file: each is named, none dropped
    assert (layer.problems["code"] == "MD215").sum() == len(layer.areas) == layer.areas["geometry"].isna().sum()


def test_shapefile_is_read_with_its_codes(tmp_path):
    import shapefile

    w = shapefile.Writer(str(tmp_path / "bgy"), shapeType=shapefile.POLYGON)
    w.field("PSGC", "C", size=12)
    w.field("NAME", "C", size=40)
    w.poly(_square(121.2, 14.0))
    w.record("0403401001", "Alaminos 1")
    w.poly(_square(121.3, 14.0))
    w.record("0403401002", "Alaminos 2")
    w.close()
    b = B.read_boundaries(tmp_path / "bgy.shp")
    assert b.features["code"].tolist() == ["0403401001", "0403401002"]
    assert b.features["name"].tolist() == ["Alaminos 1", "Alaminos 2"]
    assert b.lonlat
    poly = B.polygons(b.features["geometry"].iloc[0])
    assert poly[0][0][:, 0].min() == pytest.approx(121.2) and poly[0][0][:, 1].max() == pytest.approx(14.01)


def test_projected_coordinates_are_not_lonlat(tmp_path):
    p = _write_geojson(tmp_path / "utm.geojson", [({"psgc": "0403401001"}, _square(300000, 1550000, 500))])
    assert not B.read_boundaries(p).lonlat


def test_bad_boundary_files_are_located_errors(tmp_path):
    p = _write_geojson(tmp_path / "nocode.geojson", [({"NAME": "x"}, _square(121, 14))])
    with pytest.raises(DataError) as e:
        B.read_boundaries(p)
    assert e.value.code == "MD217" and e.value.message == render(
        "MD217", file=str(p), tried=", ".join(B.CODE_FIELDS), fields="NAME")
    q = tmp_path / "geom.json"
    q.write_text(json.dumps({"type": "Polygon", "coordinates": []}), encoding="utf-8")
    with pytest.raises(DataError) as e:
        B.read_boundaries(q)
    assert e.value.code == "MD216"
    r = _write_geojson(tmp_path / "codes.geojson", [
        ({"psgc": "04-034-01-001"}, _square(121, 14)),
        ({"psgc": "0403401001"}, _square(121, 14)),
        ({"psgc": "0403401001"}, _square(121.1, 14)),
    ])
    b = B.read_boundaries(r)
    assert b.features["code"].tolist() == ["0403401001"]
    assert b.problems[["code", "feature"]].values.tolist() == [["MD218", 1], ["MD219", 3]]
    # in a map of the area: the repeated code (in Alaminos) and the unreadable one are listed
    layer = B.map_areas("barangay", "0403401000", boundaries=b)
    assert {"MD218", "MD219"} <= set(layer.problems["code"])
    # in a map elsewhere: only the unreadable one (it could lie anywhere)
    layer = B.map_areas("barangay", "0403402000", boundaries=b)
    assert "MD218" in set(layer.problems["code"]) and "MD219" not in set(layer.problems["code"])
    with pytest.raises(DataError) as e:
        B.read_boundaries(tmp_path / "absent.geojson")
    assert e.value.code == "MD001"


def test_derived_correspondence_follows_the_reference_where_it_knows_the_unit():
    ref = areas.reference()
    ordinary = ref[ref["psgc"].str[2].eq("0") & ref["correspondence_code"].notna()
                   & ~ref["region"].isin(["0900000000", "1800000000", "1900000000"])]
    derived = B.derived_correspondence(ordinary["psgc"])
    assert (derived.to_numpy() == ordinary["correspondence_code"].to_numpy()).all()
