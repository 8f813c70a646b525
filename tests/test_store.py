"""The dataset store: exact round trip, atomic replace, no accidental overwrite, corruption named."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import migdata
from migdata.errors import StoreError
from migdata.model import HouseholdData, validate


@pytest.fixture()
def data():
    hh = pd.DataFrame({"hh_id": ["a", "b"], "weight": [1.5, 2.0], "source": ["t", "t"],
                       "urban_rural": ["urban", "rural"]})
    pp = pd.DataFrame({"hh_id": ["a", "a", "b"], "line_no": [1, 2, 1], "sex": ["female", "male", "male"],
                       "age": [40, None, 8], "relationship": ["head", "spouse", "head"],
                       "of_status": ["resident", "ofw_contract", None], "owwa_member": [None, True, False]})
    return validate(HouseholdData({"households": hh, "persons": pp}, provenance={"sources": ["t"]}))


def test_round_trip_is_exact(tmp_path, data):
    out = data.save(tmp_path / "store")
    back = migdata.load(out)
    for name in ("households", "persons"):
        pd.testing.assert_frame_equal(back.tables[name], data.tables[name])
    # unused categories survive (fixed category sets)
    assert list(back.persons["of_status"].cat.categories)[:2] == ["ofw_contract", "ofw_no_contract"]
    assert back.dataset_id == data.dataset_id
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tables"]["persons"]["rows"] == 3
    assert manifest["import_report"]["counts"]["persons"]["kept"] == 3


def test_same_dataset_can_be_saved_again_but_not_another(tmp_path, data):
    data.save(tmp_path / "s")
    data.save(tmp_path / "s")  # same dataset id: replaced atomically
    other = HouseholdData(dict(data.tables))
    with pytest.raises(StoreError) as e:
        other.save(tmp_path / "s")
    assert e.value.code == "MD121"
    other.save(tmp_path / "s", force=True)
    assert migdata.load(tmp_path / "s").dataset_id == other.dataset_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no temporary folders left


def test_non_empty_foreign_folder_is_not_overwritten(tmp_path, data):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError) as e:
        data.save(tmp_path / "x")
    assert e.value.code == "MD122"


def _damage(f):
    """Flip one byte in the middle of file ``f``; returns ``f``."""
    b = bytearray(f.read_bytes())
    b[len(b) // 2] ^= 0xFF
    f.write_bytes(bytes(b))
    return f


def test_checksum_mismatch_names_the_file(tmp_path, data):
    out = data.save(tmp_path / "s")
    f = _damage(out / "persons.parquet")
    with pytest.raises(StoreError) as e:
        migdata.load(out)
    assert e.value.code == "MD127" and f.name in str(e.value)


def test_missing_table_and_missing_manifest(tmp_path, data):
    out = data.save(tmp_path / "s")
    (out / "households.parquet").unlink()
    with pytest.raises(StoreError) as e:
        migdata.load(out)
    assert e.value.code == "MD126" and "households.parquet" in str(e.value)
    with pytest.raises(StoreError) as e:
        migdata.load(tmp_path / "nothing")
    assert e.value.code == "MD123"
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError) as e:
        migdata.load(tmp_path / "empty")
    assert e.value.code == "MD124"


def test_large_table_round_trip_keeps_dtypes(tmp_path):
    rng = np.random.default_rng(1)
    n = 50_000
    hh = pd.DataFrame({"hh_id": [f"h{i}" for i in range(n)], "weight": rng.random(n), "source": "t"})
    pp = pd.DataFrame({"hh_id": hh["hh_id"], "line_no": 1, "sex": rng.choice(["male", "female"], n),
                       "age": rng.integers(0, 100, n), "relationship": "head"})
    d = validate(HouseholdData({"households": hh, "persons": pp}))
    back = migdata.load(d.save(tmp_path / "big"))
    pd.testing.assert_frame_equal(back.persons, d.persons)


def _big(n: int) -> HouseholdData:
    hh = pd.DataFrame({"hh_id": [f"h{i:03d}" for i in range(n)], "weight": 1.0, "source": "t"})
    pp = pd.DataFrame({"hh_id": [f"h{i:03d}" for i in range(n)], "line_no": 1, "sex": "female",
                       "age": np.arange(n) % 90, "relationship": "head"})
    return validate(HouseholdData({"households": hh, "persons": pp}, provenance={"sources": ["t"]}))


def test_large_tables_are_written_in_parts_and_load_in_row_order(tmp_path, monkeypatch):
    from migdata.model import data as store
    monkeypatch.setattr(store, "PART_ROWS", 3)
    d = _big(10)
    out = d.save(tmp_path / "s")
    meta = json.loads((out / "manifest.json").read_text())["tables"]["persons"]
    # 10 rows, parts of at most 3 rows, an even number of parts: 4 parts of 3, 3, 3 and 1 rows
    assert [p["rows"] for p in meta["parts"]] == [3, 3, 3, 1]
    assert [p["file"] for p in meta["parts"]] == [f"persons-{i:03d}.parquet" for i in range(4)]
    back = migdata.load(out)
    for name in ("households", "persons"):
        pd.testing.assert_frame_equal(back.tables[name], d.tables[name])
    f = _damage(out / "persons-002.parquet")
    with pytest.raises(StoreError) as e:
        migdata.load(out)
    assert e.value.code == "MD127" and "persons-002.parquet" in str(e.value)
    f.unlink()
    with pytest.raises(StoreError) as e:
        migdata.load(out)
    assert e.value.code == "MD126" and "persons-002.parquet" in str(e.value)


def test_version_1_store_with_one_file_per_table_still_loads(tmp_path, data):
    out = data.save(tmp_path / "s")
    mpath = out / "manifest.json"
    manifest = json.loads(mpath.read_text())
    manifest["format_version"] = 1
    del manifest["manifest_sha256"]  # version 1 manifests carried no checksum of their own
    for meta in manifest["tables"].values():
        [part] = meta.pop("parts")
        meta["file"], meta["sha256"] = part["file"], part["sha256"]
    mpath.write_text(json.dumps(manifest))
    back = migdata.load(out)
    pd.testing.assert_frame_equal(back.persons, data.persons)


def test_loading_reads_every_part_and_checks_it(tmp_path, monkeypatch):
    # 10 households of one person each, written in parts of 3 rows: a report reads them all
    # (an area's figures are domain estimates of the whole dataset, so nothing loads a subset)
    from migdata.model import data as store
    monkeypatch.setattr(store, "PART_ROWS", 3)
    codes = ["0403401001"] * 6 + ["0401001001"] * 4
    hh = pd.DataFrame({"hh_id": [f"h{i}" for i in range(10)], "weight": 1.0, "source": "t", "psgc": codes})
    pp = pd.DataFrame({"hh_id": [f"h{i}" for i in range(10)], "line_no": 1, "sex": "male", "age": 30,
                       "relationship": "head"})
    d = validate(HouseholdData({"households": hh, "persons": pp}, provenance={"sources": ["t"]}))
    assert d.report.problems == []
    out = d.save(tmp_path / "s")
    back = migdata.load(out)
    assert sorted(back.persons["hh_id"]) == [f"h{i}" for i in range(10)]
    (out / "persons-001.parquet").unlink()
    with pytest.raises(StoreError) as e:
        migdata.load(out)
    assert e.value.code == "MD126" and "persons-001.parquet" in str(e.value)

def test_row_numbers_are_stored_as_deltas_and_read_back_exactly(tmp_path):
    """``_source_row`` (rising row numbers, gaps where rows were rejected) is written with
    Parquet's DELTA_BINARY_PACKED encoding and loads as it was saved."""
    import pyarrow.parquet as pq

    rows = np.r_[np.arange(2, 5000), np.arange(5007, 9000)].astype(np.int64)
    hh = pd.DataFrame({"hh_id": [f"h{i:05d}" for i in range(len(rows))], "weight": 1.0, "source": "t",
                       "_source_row": rows})
    data = validate(HouseholdData({"households": hh, "persons": pd.DataFrame(
        {"hh_id": hh["hh_id"], "line_no": 1, "sex": "male", "age": 30, "relationship": "head",
         "_source_row": rows + 1})}, provenance={"sources": ["t"]}))
    out = data.save(tmp_path / "store")
    back = migdata.load(out)
    for name in ("households", "persons"):
        pd.testing.assert_frame_equal(back.tables[name], data.tables[name])
        f = next(out.glob(f"{name}*.parquet"))
        meta = pq.ParquetFile(f).metadata.row_group(0)
        col = next(meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == "_source_row")
        assert "DELTA_BINARY_PACKED" in col.encodings
