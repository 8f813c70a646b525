"""Out-of-core estimation: a partitioned store evaluated partition by partition gives the in-memory
tables cell for cell (bundled sample, a generated 2 M-person store, a sample survey), on the
local engine and on a Dask cluster of two workers; the partition-and-reduce kernels equal the
plain pandas operations they replace; an area reads only its partitions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import migdata
import migdata.indicators
from migdata.model.frame import household_positions
from migdata.model.partitions import Store
from migdata.model.validate import validate
from migdata.survey import cells

ROOT = Path(__file__).resolve().parents[1]


def _bench_indicators():
    spec = importlib.util.spec_from_file_location("bench_indicators", ROOT / "benchmarks" / "bench_indicators.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def assert_same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Cell for cell: the same rows in the same order, every column equal (NaN equals NaN)."""
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for c in a.columns:
        x, y = a[c], b[c]
        if isinstance(x.dtype, pd.CategoricalDtype) or x.dtype == object:
            x, y = x.astype(object).to_numpy(), y.astype(object).to_numpy()
            same = (x == y) | (pd.isna(x) & pd.isna(y))
        else:
            x, y = x.to_numpy(), y.to_numpy()
            same = (x == y) | (pd.isna(x) & pd.isna(y))
        assert bool(np.all(same)), f"column {c} differs in {int((~same).sum())} rows"
    assert sorted(a.attrs) == sorted(b.attrs)
    pd.testing.assert_frame_equal(a.attrs["not_computable"], b.attrs["not_computable"])


@pytest.fixture(scope="module")
def sample_stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stores")
    data = migdata.import_files([ROOT / "sample_data" / "cbms_2022_hpq.dat"], "cbms_2022_hpq")
    return data.save(tmp / "whole"), data.save(tmp / "parts", partition_by="province")


def test_sample_store_is_partitioned_by_province(sample_stores):
    _, parts = sample_stores
    st = Store(parts)
    assert st.partitioned and st.levels == ("region", "province")
    hh = migdata.load(parts).households
    assert {p.key[1] for p in st.partitions} == set(hh["province"].dropna().astype(str))
    files = sorted(str(p.relative_to(parts)) for p in parts.glob("persons/*/*/*.parquet"))
    assert all(f.startswith("persons/reg=0400000000/prov=04") for f in files)


def test_published_tables_identical_on_the_sample(sample_stores):
    whole, parts = sample_stores
    a = migdata.compute(migdata.load(whole), level="barangay", by=["sex", "age_group"])
    b = migdata.compute(parts, level="barangay", by=["sex", "age_group"])  # never loaded whole
    assert_same_table(a, b)
    assert len(a) > 10_000


def test_raw_estimates_identical_with_other_disaggregations(sample_stores):
    whole, parts = sample_stores
    by = ["urban_rural", "migratory_status"]
    a = migdata.indicators.compute(migdata.load(whole), level="city", by=by, age_scheme="five_year")
    b = migdata.indicators.compute(Store(parts), level="city", by=by, age_scheme="five_year")
    assert_same_table(a, b)


def test_counts_by_blocks_of_rows_equal_counts_over_all_rows(sample_stores, monkeypatch):
    # stage 1 counts units and sums record keys a block of rows at a time: blocks of 97 rows
    # give the raw table (counts, cell keys) of one pass over all rows
    whole, _ = sample_stores
    data = migdata.load(whole)
    monkeypatch.setattr(cells, "_COUNT_BLOCK", 1 << 40)
    one = migdata.indicators.compute(data, level="barangay", by=["sex", "age_group"])
    monkeypatch.setattr(cells, "_COUNT_BLOCK", 97)
    assert len(data.persons) > 20 * 97
    assert_same_table(migdata.indicators.compute(data, level="barangay", by=["sex", "age_group"]), one)


def test_blocks_of_households_give_the_whole_partition(sample_stores, monkeypatch):
    # a partition of more than BLOCK_PERSONS persons is evaluated a block of whole households at
    # a time and the blocks' sums reduced: the raw table (estimates, counts, cell keys, largest
    # contributions, medians, categories) of one pass over all rows, whatever the block size
    from migdata.indicators import evaluate

    whole, _ = sample_stores
    data = migdata.load(whole)
    monkeypatch.setattr(evaluate, "BLOCK_PERSONS", 1 << 40)
    one = migdata.indicators.compute(data, level="barangay", by=["sex", "age_group"])
    n = len(data.persons)
    for size in (n // 7, n // 2 - 1, 500):
        blocks = evaluate.household_blocks(data, "barangay", size)
        assert len(blocks) > 1
        # whole households, every row once, in order; a barangay never spans two blocks
        assert pd.concat([b.households for b in blocks]).reset_index(drop=True).equals(data.households)
        assert pd.concat([b.persons for b in blocks]).reset_index(drop=True).equals(data.persons)
        ends = [b.households["barangay"].astype(str) for b in blocks]
        assert all(a.iloc[-1] != b.iloc[0] for a, b in zip(ends, ends[1:]))
        monkeypatch.setattr(evaluate, "BLOCK_PERSONS", size)
        assert_same_table(migdata.indicators.compute(data, level="barangay", by=["sex", "age_group"]), one)
    # persons out of their households' order: no cut is safe, the partition stays whole
    shuffled = migdata.model.HouseholdData({"households": data.households,
                                            "persons": data.persons.sample(frac=1, random_state=1)},
                                           provenance=data.provenance)
    assert evaluate.household_blocks(shuffled, "barangay", 500) == [shuffled]


def test_shared_blocks_and_rows_ordered_on_threads_give_one_threads_table(sample_stores, monkeypatch):
    # a store's partitions cut in blocks that the engine's idle thread takes, and each
    # indicator's rows put in order on the look-ahead threads: the table of one thread doing
    # everything in turn, with the same label lists (the categories' order of every column)
    from migdata.indicators import evaluate
    from migdata.survey.engine import LocalEngine

    _, parts = sample_stores
    args = dict(level="barangay", by=["sex", "age_group"], cache=False)
    monkeypatch.setattr(evaluate, "LOOKAHEAD", 0)
    one = migdata.indicators.compute(parts, engine=LocalEngine(1), **args)
    monkeypatch.setattr(evaluate, "LOOKAHEAD", 2)
    monkeypatch.setattr(evaluate, "BLOCK_PERSONS", 250)
    cut = []
    shared = evaluate.map_shared

    def record(fn, items):
        cut.append(1)
        return shared(fn, items)

    monkeypatch.setattr(evaluate, "map_shared", record)
    two = migdata.indicators.compute(parts, engine=LocalEngine(2), **args)
    assert len(cut) == len(Store(parts).partitions)  # every partition went through the shared blocks
    pd.testing.assert_frame_equal(one, two)  # categorical columns: the same categories in order
    pd.testing.assert_frame_equal(one.attrs["not_computable"], two.attrs["not_computable"])


@pytest.mark.parametrize("seed", range(5))
def test_blocks_of_households_on_perturbed_datasets(sample_stores, monkeypatch, seed):
    # the class of inputs the cut must survive (seeded): households without persons, households
    # whose barangay is missing, barangays out of order (a barangay then spans blocks), and
    # random block sizes; blocked or not, the same raw table
    from migdata.indicators import evaluate

    rng = np.random.default_rng(seed)
    whole, _ = sample_stores
    data = migdata.load(whole)
    hh, pp = data.households.copy(), data.persons
    keep_hh = rng.random(len(hh)) > 0.05
    gone = set(hh.loc[~keep_hh, "hh_id"])
    pp = pp[~pp["hh_id"].isin(gone)].reset_index(drop=True)  # those households keep no person
    hh.loc[rng.random(len(hh)) < 0.02, "barangay"] = None
    if seed % 2:  # whole households moved, persons following: barangays no longer in runs
        order = rng.permutation(len(hh))
        hh = hh.iloc[order].reset_index(drop=True)
        pos = pd.Series(np.arange(len(hh)), index=hh["hh_id"])
        pp = pp.iloc[np.argsort(pos[pp["hh_id"]].to_numpy(), kind="stable")].reset_index(drop=True)
    d = migdata.model.HouseholdData({"households": hh, "persons": pp}, provenance=data.provenance)
    monkeypatch.setattr(evaluate, "BLOCK_PERSONS", 1 << 40)
    one = migdata.indicators.compute(d, level="barangay", by=["sex", "age_group"])
    size = int(rng.integers(200, len(pp) // 3))
    assert len(evaluate.household_blocks(d, "barangay", size)) > 1
    monkeypatch.setattr(evaluate, "BLOCK_PERSONS", size)
    assert_same_table(migdata.indicators.compute(d, level="barangay", by=["sex", "age_group"]), one)


def test_generated_two_million_person_store(tmp_path):
    data = _bench_indicators().generate(2_000_000, seed=9)
    whole = data.save(tmp_path / "whole")
    parts = data.save(tmp_path / "parts", partition_by="province")
    del data
    a = migdata.compute(migdata.load(whole), level="city", by=["sex", "age_group"])
    b = migdata.compute(parts, level="city", by=["sex", "age_group"])
    assert_same_table(a, b)
    # published counts carry the cell-key noise (at most D persons either way)
    from migdata.publish.disclosure import parameters

    region = int(a.loc[(a["indicator_id"] == "DM01") & (a["area_level"] == "region"), "estimate"].iloc[0])
    assert abs(region - 2_000_000) <= parameters(3)[0]


def test_region_partitions_and_national_rows(tmp_path):
    # areas of several regions: partitions by region, and the country row adds them up
    hh = pd.DataFrame({"hh_id": ["a", "b", "c"], "weight": 1.0, "source": "t",
                       "psgc": ["0102801001", "0401001001", "0401001002"]})
    pp = pd.DataFrame({"hh_id": ["a", "b", "c", "c"], "line_no": [1, 1, 1, 2], "age": [30, 40, 50, 20],
                       "sex": ["male", "female", "female", "male"], "relationship": ["head"] * 3 + ["child"],
                       "of_status": ["ofw_contract", "resident", "ofw_contract", "resident"]})
    data = validate(migdata.HouseholdData({"households": hh, "persons": pp},
                                                         provenance={"complete_count": True}))
    whole = data.save(tmp_path / "w")
    parts = data.save(tmp_path / "p", partition_by="region")
    a = migdata.indicators.compute(migdata.load(whole), ids=["OF02", "DM01"], level="province", by=["sex"])
    b = migdata.indicators.compute(parts, ids=["OF02", "DM01"], level="province", by=["sex"])
    assert_same_table(a, b)
    nat = b[(b["area_level"] == "national") & (b["indicator_id"] == "OF02") & (b["sex"] == "Total")]
    assert nat["estimate"].tolist() == [2.0]  # one OFW in Region I, one in IV-A (counted by hand)


def test_survey_store_is_read_whole(tmp_path):
    survey = migdata.import_files([ROOT / "sample_data" / "lfs_like_survey.sav"], "sample_survey")
    whole, parts = survey.save(tmp_path / "w"), survey.save(tmp_path / "p", partition_by="region")
    a = migdata.compute(migdata.load(whole), level="region", by=["sex"])
    b = migdata.compute(parts, level="region", by=["sex"])
    assert_same_table(a, b)


def test_area_reads_only_its_partitions(sample_stores):
    whole, parts = sample_stores
    full = migdata.load(whole)
    laguna = migdata.load(parts, area="0403400000")
    assert set(laguna.households["province"].astype(str)) == {"0403400000"}
    assert len(laguna.households) == int((full.households["province"] == "0403400000").sum())
    city = str(full.households.loc[full.households["province"] == "0403400000", "city_mun"].iloc[0])
    assert len(migdata.load(parts, area=city).households) == len(laguna.households)  # its province's part
    with pytest.raises(migdata.errors.UsageError) as e:
        migdata.load(parts, area="0999999999")
    assert e.value.code == "MD140"


def test_dask_cluster_of_two_workers_gives_the_same_numbers(sample_stores):
    pytest.importorskip("distributed", reason="the distributed extra is not installed "
                                              "(pip install 'migdata[distributed]')")
    from migdata.survey.engine import DaskEngine

    _, parts = sample_stores
    # cache=False: the workers compute every partition's cell sums (kept sums would be read back)
    local = migdata.compute(parts, level="city", by=["sex", "age_group"], cache=False)
    engine = DaskEngine(n_workers=2)
    try:
        assert engine.workers == 2
        remote = migdata.compute(parts, level="city", by=["sex", "age_group"], engine=engine, cache=False)
    finally:
        engine.close()
    assert_same_table(local, remote)


def test_cli_engine_at_a_scheduler_address_writes_the_local_tables(sample_stores, tmp_path, capsys):
    """``--engine tcp://HOST:PORT`` (a running cluster, as on a real one) gives the CSV of the
    in-process engine byte for byte."""
    pytest.importorskip("distributed", reason="the distributed extra is not installed "
                                              "(pip install 'migdata[distributed]')")
    import shutil

    from dask.distributed import LocalCluster

    from migdata.cli import main

    _, parts = sample_stores
    for name in ("a", "b"):  # a copy each, without kept cell sums: both runs compute them
        shutil.copytree(parts, tmp_path / name, ignore=shutil.ignore_patterns("_cache"))

    def run(store, *extra):
        with pytest.raises(SystemExit) as e:
            main(["indicators", str(tmp_path / store), "--level", "city", "--by", "sex,age_group", "--csv",
                  "--ids", "DM01,OF02,OF03,OF05,RM01,HH01,HH02", *extra])
        capsys.readouterr()
        return e.value.code

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        assert run("a", "--out", str(tmp_path / "dask.xlsx"), "--engine", cluster.scheduler_address) == 0
    assert run("b", "--out", str(tmp_path / "local.xlsx")) == 0
    local, remote = (tmp_path / "local.csv").read_bytes(), (tmp_path / "dask.csv").read_bytes()
    assert len(local.splitlines()) > 500 and local == remote


def test_engine_choice_errors(monkeypatch, sample_stores, capsys):
    from migdata.cli import main
    from migdata.errors import UsageError, render
    from migdata.survey.engine import get_engine

    with pytest.raises(UsageError) as e:
        get_engine("spark")
    assert e.value.code == "MD732" and str(e.value) == render("MD732", value="spark")
    _, parts = sample_stores
    with pytest.raises(SystemExit) as e:
        main(["indicators", str(parts), "--engine", "spark"])
    assert e.value.code == 2 and render("MD732", value="spark") in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if the extra were not installed
    with pytest.raises(UsageError) as e:
        get_engine("dask")
    assert e.value.code == "MD730" and str(e.value) == render("MD730")


# ----------------------------------------------------------------------------- kernels
def test_median_histograms_equal_pandas_median():
    rng = np.random.default_rng(4)
    n = 5000
    df = pd.DataFrame({"city_mun": rng.choice(["c1", "c2", "c3"], n), "province": "p",
                       "sex": pd.Categorical(rng.choice(["f", "m"], n))})
    value = rng.integers(0, 40, n).astype(float)  # ties, odd and even counts
    u = rng.random(n) < 0.7
    space = cells.cell_space(df, ["city", "province"], ["sex"])
    m = {"u": u, "value": np.where(u, value, 0.0)}
    # cut the rows in two "partitions": their histograms add up to the whole's
    h1 = cells.median_cells(space, ["sex"], {"u": u & (np.arange(n) < 2000), "value": m["value"]})
    h2 = cells.median_cells(space, ["sex"], {"u": u & (np.arange(n) >= 2000), "value": m["value"]})
    got = cells.median_rollup(pd.concat([h1, h2]), space, ["city", "province"], ["sex"])
    ref = pd.DataFrame({"city": df["city_mun"], "sex": df["sex"].astype(str), "v": value})[u]
    for _, r in got.iterrows():
        sel = ref
        if r["area_level"] == 3:
            sel = sel[sel["city"] == space.up_labels["city"][int(r["_alev"])]]
        if r["sex"] >= 0:
            sel = sel[sel["sex"] == space.dims["sex"].labels[int(r["sex"])]]
        assert r["estimate"] == sel["v"].median() and r["n"] == len(sel)


def test_combine_equals_groupby_sum_and_max():
    rng = np.random.default_rng(6)
    frames = [pd.DataFrame({"_area": rng.integers(0, 5, 40), "sex": rng.integers(0, 3, 40),
                            "_cat": rng.integers(-1, 2, 40), "num": rng.random(40), "top_num": rng.random(40)})
              for _ in range(3)]
    got = cells.combine(frames, ["_area", "sex", "_cat"], ["num"], ["top_num"])
    ref = pd.concat(frames).groupby(["_area", "sex", "_cat"]).agg(num=("num", "sum"), top_num=("top_num", "max"))
    got = got.set_index(["_area", "sex", "_cat"]).sort_index()
    assert np.allclose(got["num"], ref["num"]) and np.array_equal(got["top_num"], ref["top_num"])


def test_categories_equal_a_cross_join():
    cells_ = pd.DataFrame({"_area": [0, 0, 1], "sex": [0, 1, 0], "_cat": [0, 2, 1], "num": [3.0, 1.0, 2.0],
                           "units": [3.0, 1.0, 2.0]})
    dom = pd.DataFrame({"_area": [0, 0, 1], "sex": [0, 1, 0]})
    keep = np.array([True, True, False])
    got = cells.categories(cells_, dom, ["sex"], keep, zeros=True)
    grid = dom.merge(pd.DataFrame({"_cat": [0, 1]}), how="cross")
    ref = grid.merge(cells_, on=["_area", "sex", "_cat"], how="left").fillna({"num": 0.0, "units": 0.0})
    key = ["_area", "sex", "_cat"]
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True)[ref.columns],
                                  ref.sort_values(key).reset_index(drop=True), check_dtype=False)
    assert len(cells.categories(cells_, dom, ["sex"], keep, zeros=False)) == 2


def test_merge_dims_equal_factor_of_the_concatenation():
    a = pd.Series(["b", None, "a"], name="x")
    b = pd.Series(["c", "a"], name="x")
    merged, maps = cells.merge_dims([cells.factor(a), cells.factor(b)])
    whole = cells.factor(pd.concat([a, b], ignore_index=True))
    assert merged.labels == whole.labels
    codes = np.concatenate([maps[0][cells.factor(a).codes], maps[1][cells.factor(b).codes]])
    assert codes.tolist() == whole.codes.tolist()


def test_household_positions_equal_get_indexer():
    rng = np.random.default_rng(8)
    for _ in range(20):
        hh_ids = [f"h{i}" for i in rng.permutation(30)[:rng.integers(1, 30)]]
        hh = pd.DataFrame({"hh_id": pd.array(hh_ids, dtype="string")})
        if rng.random() < 0.5:  # persons grouped in the households' order (the fast path)
            pids = [h for h in hh_ids for _ in range(int(rng.integers(1, 4)))]
        else:
            pids = list(rng.choice(hh_ids + ["zz", None], 60))
        pp = pd.DataFrame({"hh_id": pd.array(pids, dtype="string")})
        ref = pd.Index(hh["hh_id"]).get_indexer(pp["hh_id"])
        assert household_positions(hh, pp).tolist() == ref.tolist()


# ----------------------------------------------------------------------------- fast area reports
def _report_sections(p):
    """Everything a migration profile shows, as tables."""
    out = {"headline": p.headline(), "comparison": p.comparison(), "sub_areas": p.sub_areas(),
           "destinations": p.destinations(), "detail": p.tables["detail"]}
    out["of_pyramid"], out["pop_pyramid"] = p.pyramid()
    out["children"], out["schooling"] = p.children()
    uses = p.remittance_uses()
    if uses is not None:
        out["uses"] = uses
    own = p.table[p.table["area_code"] == p.area.code]
    # a category no unit of the area's partitions has (a country only other provinces' OFWs went
    # to) has no row in the area's report; the whole dataset's table shows it as 0
    own = own[~((own["category"].astype(str) != "") & (own["estimate"] == 0))]
    own = own.astype({c: object for c in own.columns if isinstance(own[c].dtype, pd.CategoricalDtype)})
    out["own"] = own.sort_values(["indicator_id", "category"]).reset_index(drop=True)
    return out


def _same_sections(a, b):
    sa, sb = _report_sections(a), _report_sections(b)
    assert sa.keys() == sb.keys()
    for name in sa:
        x, y = sa[name].reset_index(drop=True), sb[name].reset_index(drop=True)
        x, y = x.astype({c: object for c in x.columns if isinstance(x[c].dtype, pd.CategoricalDtype)}), \
            y.astype({c: object for c in y.columns if isinstance(y[c].dtype, pd.CategoricalDtype)})
        pd.testing.assert_frame_equal(x, y, check_dtype=False, obj=name)


@pytest.mark.parametrize("level", ["province", "city"])
def test_area_report_from_partitions_equals_the_whole_dataset(sample_stores, level, monkeypatch):
    from migdata.report import MigrationProfile, keep_area_summaries

    whole, parts = sample_stores
    full = migdata.load(whole)
    area = "0403400000" if level == "province" else str(
        full.households.loc[full.households["province"] == "0403400000", "city_mun"].iloc[0])
    ref = MigrationProfile.from_dataset(full, area)
    keep_area_summaries(parts)  # what the import does
    # cold: only the area's own partition is read (the areas above come from the summaries)
    read = []
    real = Store.read_table
    monkeypatch.setattr(Store, "read_table", lambda self, part, *a, **k: read.append(part.key) or real(self, part, *a, **k))
    cold = MigrationProfile.from_dataset(migdata.load(parts, lazy=True), area)
    assert {key[1] for key in read} == {"0403400000"}
    # warm: the partitions' cell sums are kept in the store; no partition is read again, except
    # the area columns of the area's own partition (to name the area)
    monkeypatch.setattr(Store, "read", lambda *a, **k: pytest.fail("a partition was read whole"))
    read.clear()
    warm = MigrationProfile.from_dataset(migdata.load(parts, lazy=True), area)
    assert {key[1] for key in read} <= {"0403400000"}
    for p in (cold, warm):
        assert p.area == ref.area
        _same_sections(p, ref)
        assert len(p.comparison()) == len(ref.comparison()) > 0
        assert p.comparison()["area_code"].nunique() == len(ref.chain)


def test_rollup_level_by_level_equals_groupby_of_the_finest_cells():
    rng = np.random.default_rng(12)
    n = 400
    barangays = np.array([f"b{i}" for i in range(12)])
    city_of = {b: f"c{i // 4}" for i, b in enumerate(barangays)}
    for nested in (True, False):
        bgy = rng.choice(barangays, n)
        df = pd.DataFrame({"barangay": bgy, "city_mun": [city_of[b] for b in bgy], "province": "p",
                           "sex": pd.Categorical(rng.choice(["f", "m"], n)),
                           "age_group": pd.Categorical(rng.choice(["0-14", "15+"], n))})
        if not nested:  # a barangay whose rows name two cities: no nesting, the plain route
            df.loc[df["barangay"] == "b0", "city_mun"] = "c2"
        space = cells.cell_space(df, ["barangay", "city", "province"], ["sex", "age_group"])
        m = {"u": rng.random(n) < 0.8, "num": rng.random(n) < 0.3}
        c, _ = cells.stage1(space, ["sex", "age_group"], m, "share")
        cube = cells.rollup(c, space, ["barangay", "city", "province"], ["sex", "age_group"], ["num", "den"])
        for lev, col in (("barangay", "barangay"), ("city", "city_mun"), ("province", "province")):
            for keep in cells.subsets(["sex", "age_group"]):
                got = cube[cube["area_level"] == migdata.areas.levels.LEVELS.index(lev)]
                for d in ["sex", "age_group"]:
                    got = got[(got[d] >= 0) if d in keep else (got[d] == -1)]
                # the plain route: group the finest cells by their area's code at this level
                area = space.up[lev][c["_area"].to_numpy()]
                ref = c.assign(_alev=area).groupby(["_alev", *keep])[["num", "den"]].sum()
                got = got.set_index(["_alev", *keep])[["num", "den"]].sort_index()
                assert np.array_equal(got.to_numpy(), ref.sort_index().to_numpy())


def test_partitioned_store_files_stay_inside_and_it_can_be_replaced(tmp_path):
    import json

    from migdata.errors import StoreError
    from migdata.model.data import MANIFEST, write_manifest

    data = migdata.import_files([ROOT / "sample_data" / "cbms_2022_hpq.dat"], "cbms_2022_hpq")
    path = data.save(tmp_path / "s", partition_by="province")
    migdata.compute(path, ids=["OF02"], level="province")  # writes the partitions' cell sums
    assert (path / "_cache").is_dir()
    data.save(path, partition_by="province")  # the same dataset again: replaced, cache and all
    assert not (path / "_cache").exists()
    manifest = json.loads((path / MANIFEST).read_text())
    manifest.pop("manifest_sha256")
    manifest["tables"]["persons"]["parts"][0]["file"] = "../outside.parquet"
    write_manifest(path, manifest)  # a consistent checksum: only the path is wrong
    with pytest.raises(StoreError) as e:
        migdata.load(path)
    assert e.value.code == "MD125" and "outside.parquet" in str(e.value)


# ----------------------------------------------------------------------------- national tables
def _plain(t: pd.DataFrame) -> pd.DataFrame:
    t = t.reset_index(drop=True)
    t.attrs = {}  # pandas compares attrs (frames) when it concatenates
    return t.astype({c: object for c in t.columns if isinstance(t[c].dtype, pd.CategoricalDtype)})


@pytest.mark.parametrize("raw", [True, False])
def test_batches_are_the_table_one_indicator_at_a_time(sample_stores, raw):
    """compute_batches gives compute's rows, indicator after indicator, and the same attributes."""
    from migdata.indicators import evaluate
    from migdata.publish import tables

    _, parts = sample_stores
    kw = dict(level="barangay", by=["sex", "age_group"], cache=False)
    whole = (evaluate.compute if raw else tables.compute)(parts, **kw)
    attrs: dict = {}
    batches = list((evaluate.compute_batches if raw else tables.compute_batches)(parts, attrs=attrs, **kw))
    assert [str(b["indicator_id"].iloc[0]) for b in batches] == list(dict.fromkeys(whole["indicator_id"].astype(str)))
    assert all(b["indicator_id"].nunique() == 1 for b in batches)
    got = pd.concat([_plain(b.drop(columns=[c for c in b.columns if c.startswith("_")])) for b in batches],
                    ignore_index=True)
    want = _plain(whole.drop(columns=[c for c in whole.columns if c.startswith("_")]))
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    pd.testing.assert_frame_equal(attrs["not_computable"], whole.attrs["not_computable"])


@pytest.mark.parametrize("raw", [True, False])
def test_no_indicator_table_is_held_while_the_next_is_finished(sample_stores, tmp_path, monkeypatch, raw):
    """A national table is written one indicator at a time so that only one is in memory: every
    table made before is gone (no reference left anywhere) when the next indicator is labelled,
    whether the batches are read as they come or written to Parquet."""
    import weakref

    from migdata.indicators import evaluate
    from migdata.publish import tables

    made: list[weakref.ref] = []
    alive_at_label: list[int] = []
    assemble, label = evaluate._assemble, evaluate._label

    def tracked_assemble(*a, **k):
        out = assemble(*a, **k)
        made.append(weakref.ref(out))
        return out

    def tracked_label(*a, **k):
        alive_at_label.append(sum(r() is not None for r in made))
        return label(*a, **k)

    monkeypatch.setattr(evaluate, "_assemble", tracked_assemble)
    monkeypatch.setattr(evaluate, "_label", tracked_label)
    _, parts = sample_stores
    kw = dict(level="barangay", by=["sex", "age_group"], cache=False)
    if raw:
        for batch in evaluate.compute_batches(parts, **kw):
            del batch  # as a writer does once a batch is written
    else:
        def published():  # each protected batch as it goes to the writer, tracked the same way
            for batch in tables.compute_batches(parts, **kw):
                made.append(weakref.ref(batch))
                yield batch
                del batch

        tables.write_parquet(published(), tmp_path / "t.parquet")
    assert len(made) > 5
    assert alive_at_label == [0] * len(alive_at_label)


def test_parquet_tables_equal_the_published_csv(sample_stores, tmp_path):
    """``migdata indicators STORE --out X.parquet`` writes, batch by batch, the rows and values of
    the CSV the same command writes in one piece."""
    from migdata.cli import cli
    from click.testing import CliRunner

    _, parts = sample_stores
    runner = CliRunner()
    for out in ("t.parquet", "t.xlsx"):
        args = ["indicators", str(parts), "--level", "barangay", "--out", str(tmp_path / out)]
        res = runner.invoke(cli, args + (["--csv"] if out.endswith("xlsx") else []))
        assert res.exit_code == 0, res.output
    from migdata.publish.excel import read_csv

    pq_t = pd.read_parquet(tmp_path / "t.parquet")
    csv_t = read_csv(tmp_path / "t.csv")
    assert len(pq_t) == len(csv_t) > 0
    assert list(pq_t.columns) == list(csv_t.columns)
    for c in ("estimate", "n", "numerator", "denominator"):
        np.testing.assert_allclose(pq_t[c].to_numpy(dtype=float), csv_t[c].to_numpy(dtype=float), equal_nan=True)
    for c in ("indicator_id", "area_code", "sex", "age_group", "category"):
        assert (pq_t[c].fillna("").astype(str).to_numpy() == csv_t[c].fillna("").astype(str).to_numpy()).all(), c


@pytest.mark.parametrize("seed", range(5))
def test_attach_equals_a_left_merge(seed):
    from migdata.survey.cells import attach

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    right = pd.DataFrame({"a": rng.integers(0, 4, 80), "b": rng.integers(-1, 5, 80), "c": rng.integers(-1, 3, 80)})
    right = right.drop_duplicates().reset_index(drop=True)
    right["den"], right["n"] = rng.random(len(right)), rng.integers(0, 9, len(right)).astype(float)
    left = pd.DataFrame({"a": rng.integers(0, 5, n), "b": rng.integers(-1, 6, n), "c": rng.integers(-1, 3, n),
                         "num": rng.random(n)})
    want = left.merge(right, on=["a", "b", "c"], how="left")
    got = attach(left, right, ["a", "b", "c"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)
