"""Differential tests of the performance kernels (``migdata/_kernels``): each kernel against the
plain pandas/numpy operation its docstring says it equals.

Inputs come from seeded generators (and hypothesis where a shrunk counter-example helps): few
distinct values, so repeats are common; missing values; values beyond the kernels' shortcuts
(negative, wide, large); and both the order files usually have (sorted, members consecutive),
which the shortcuts exploit, and shuffled orders, which take the general path.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migdata._kernels.codes import factorize
from migdata._kernels.codes import interval_codes
from migdata._kernels.codes import isin as kernel_isin
from migdata._kernels.keys import HouseholdKeys, duplicated_pairs, first_per_case, hash_rows, run_starts
from migdata._kernels.parallel import help_others, imap_in_threads, map_in_threads, map_shared
from migdata._kernels.text import arrow_text, constant_text, isin_text, map_text, padded_join, take_text

SEEDS = range(12)
ORDERS = ["sorted", "shuffled"]


def _values(rng: np.random.Generator, n: int, pool: list, p_missing: float = 0.15) -> list:
    """``n`` draws from ``pool`` (repeats likely), each missing with probability ``p_missing``."""
    out = [pool[i] for i in rng.integers(0, len(pool), n)]
    return [None if m else v for v, m in zip(out, rng.random(n) < p_missing)]


def _order(values: list, order: str, rng: np.random.Generator) -> list:
    if order == "sorted":  # as files come: grouped and increasing, missing values last
        return sorted(values, key=lambda v: (v is None, v if v is not None else 0))
    return [values[i] for i in rng.permutation(len(values))]


def _plain(values) -> list:
    return [None if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in values]


# -- codes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype, pool", [
    ("Int8", [0, 1, 2, 9, 127]),
    ("Int16", [0, 3, 17, 999]),
    ("Int32", [0, 5, 65_535, 65_536, 70_000]),      # both sides of the direct-code limit
    ("Int64", [-3, 0, 4, 12]),                       # negative: hashed
    ("UInt64", [0, 7, 2 ** 64 - 1]),                 # beyond int64: hashed
    ("float64", [0.0, 1.0, 2.5, np.inf]),
    ("string", ["a", "b", " c", "1"]),
])
def test_factorize_gives_every_row_the_value_pandas_factorize_gives(seed, order, dtype, pool):
    rng = np.random.default_rng(seed)
    vals = _order(_values(rng, int(rng.integers(0, 40)), pool), order, rng)
    s = pd.Series(vals, dtype=dtype) if dtype not in ("float64",) else pd.Series(
        [np.nan if v is None else v for v in vals], dtype=dtype)
    codes, uniques = factorize(s)
    want_codes, want_uniques = pd.factorize(s, use_na_sentinel=True)
    assert [None if c < 0 else uniques[c] for c in codes] == \
           [None if c < 0 else want_uniques[c] for c in want_codes]
    assert sorted(map(str, uniques)) == sorted(map(str, want_uniques))  # only values present


def test_small_integer_codes_factorize_like_pandas():
    """The direct path (codes that index a table) on every small integer dtype, shrunk by
    hypothesis when it fails."""
    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.one_of(st.none(), st.integers(0, 70_000), st.integers(-3, 12)), max_size=15),
           st.sampled_from(["Int8", "Int16", "UInt8", "UInt16", "Int32", "Int64", "int8", "uint16"]))
    def check(values, dtype):
        info = np.iinfo(dtype.lower())  # into the dtype's range, negative values kept where it has them
        values = [v if v is None else int(info.min) + (v - int(info.min)) % (int(info.max) - int(info.min) + 1)
                  if not info.min <= v <= info.max else v for v in values]
        if dtype.islower():  # a plain numpy column: no missing values
            values = [0 if v is None else v for v in values]
        s = pd.Series(pd.array(values, dtype=dtype))
        codes, uniques = factorize(s)
        want_codes, want_uniques = pd.factorize(s, use_na_sentinel=True)
        assert [None if c < 0 else uniques[c] for c in codes] == \
               [None if c < 0 else want_uniques[c] for c in want_codes]

    check()


# -- text ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("order", ORDERS)
def test_map_text_equals_series_map(seed, order):
    rng = np.random.default_rng(seed)
    vals = _order(_values(rng, int(rng.integers(0, 50)), [0, 1, 7, 300, 70_000]), order, rng)
    s = pd.Series(pd.array(vals, dtype="Int64"))

    def fn(v):  # a rule with a missing result, as a code without a label
        return None if int(v) == 7 else f"code {int(v)}"

    got = map_text(s, fn)
    want = s.map(lambda v: pd.NA if pd.isna(v) else fn(v)).astype("string[pyarrow]")
    assert _plain(got.tolist()) == _plain(want.tolist())
    assert got.index.equals(s.index) and isinstance(got.dtype, pd.StringDtype)


@pytest.mark.parametrize("seed", SEEDS)
def test_take_text_equals_indexing_the_labels(seed):
    rng = np.random.default_rng(seed)
    labels = ["a", None, 3, float("nan"), pd.NA, "z z"][: int(rng.integers(0, 7))]
    codes = rng.integers(-1, len(labels), int(rng.integers(0, 30))) if labels else \
        np.full(int(rng.integers(0, 5)), -1)
    index = pd.RangeIndex(len(codes)) + 10
    got = take_text(labels, codes, index)
    want = pd.Series([None if c < 0 else labels[c] for c in codes], index=index, dtype=object)
    want = want.map(lambda v: None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v))
    assert _plain(got.tolist()) == _plain(want.tolist()) and got.index.equals(index)


def test_constant_and_arrow_text_equal_pandas_casts():
    idx = pd.Index([5, 3, 9])
    pd.testing.assert_series_equal(constant_text("cbms", idx).astype(object),
                                   pd.Series("cbms", index=idx, dtype="string[pyarrow]").astype(object))
    s = pd.Series([1, None, 3], dtype="Int64")
    assert arrow_text(s).to_pylist() == _plain(s.astype("string[pyarrow]").tolist())
    assert arrow_text(constant_text("", pd.RangeIndex(0))).to_pylist() == []


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["text", "numbers as text", "numbers"])
def test_isin_text_equals_pandas_isin_on_text(seed, kind):
    rng = np.random.default_rng(seed)
    pool = ["h1", "h2", "h10", "x", ""] if kind == "text" else [1, 2, 10, 11]
    s = pd.Series(_values(rng, int(rng.integers(0, 40)), pool),
                  dtype="string" if kind == "text" else "Int64")
    values = _values(rng, int(rng.integers(0, 4)), pool if kind != "numbers as text" else ["1", "10", "3"])
    got = isin_text(s, values)
    want = s.astype("string").isin(pd.Series(values, dtype=object).dropna().astype("string"))
    assert got.tolist() == want.fillna(False).astype(bool).tolist()


def _rjust(v, w) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    f = float(v)
    txt = str(int(v)) if f.is_integer() else repr(f)
    return txt.rjust(w, "0") if w else txt


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("case", ["fits", "negative", "too wide", "floats", "text part", "no width"])
@pytest.mark.parametrize("narrow", [False, True])
def test_padded_join_equals_python_formatting(seed, order, case, narrow):
    """Both the byte-matrix path (non-negative integers that fit, members' rows repeating an
    id) and the Arrow path (every other case) give what Python's formatting gives, for 64-bit
    parts and for the narrow ones a reader gives (Int8 region, Int32 number)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    regions = _values(rng, n, [4, 13, 1])
    hh = _values(rng, n, {"fits": [1, 250, 99_999, 7], "negative": [1, -1, 30], "too wide": [5, 123_456],
                          "floats": [1.0, 2.5, float("inf"), 3.0], "text part": ["a", "7", "b c"],
                          "no width": [1, 20]}[case])
    rows = _order(list(zip(regions, hh)), order, rng) if order == "shuffled" else \
        sorted(zip(regions, hh), key=lambda r: tuple((x is None, str(x)) for x in r))
    widths = [2, None if case == "no width" else 5]
    reg = pd.Series([r for r, _ in rows], dtype="Int8" if narrow else "Int64")
    dtype = {"floats": "float64", "text part": "string"}.get(case, "Int32" if narrow else "Int64")
    second = pd.Series([np.nan if h is None and dtype == "float64" else h for _, h in rows], dtype=dtype)
    index = pd.RangeIndex(n) + 3
    got = padded_join([reg, second], widths, "-", index)
    want = [None if r is None or h is None else f"{_rjust(r, 2)}-{_rjust(h, widths[1])}" for r, h in rows]
    assert _plain(got.tolist()) == want and got.index.equals(index)


# -- keys ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("packable", [True, False])
def test_first_per_case_equals_drop_duplicates(seed, order, packable):
    """Cases repeat (a case's records consecutive when sorted, scattered when shuffled), keys
    may be missing; with integer keys and no missing value the packed-id path is taken."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    p = 0.0 if packable else 0.1
    rows = list(zip(_values(rng, n, [0, 1, 4, 17], p), _values(rng, n, [0, 2, 3, 99_999], p)))
    if order == "sorted":
        rows = sorted(rows, key=lambda r: tuple((x is None, x or 0) for x in r))
    else:
        rows = [rows[i] for i in rng.permutation(n)]
    df = pd.DataFrame({"R": pd.array([r[0] for r in rows], dtype="Int8"),
                       "H": pd.array([r[1] for r in rows], dtype="Int32"),
                       "_source_row": range(1, n + 1)})
    pd.testing.assert_frame_equal(first_per_case(df, ["R", "H"]), df.drop_duplicates(["R", "H"], keep="first"))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", ["string[pyarrow]", "str", "object", "category"])
def test_hash_rows_equals_pandas_hash_of_the_rows(seed, order, dtype):
    """Household ids in runs (a household's members consecutive) or scattered, some missing,
    beside a line number with missing values: the same hashes as pandas, for each secret."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 80))
    hh = [None if rng.random() < 0.05 else f"H{int(x):04d}" for x in np.sort(rng.integers(0, 12, n))]
    if order != "sorted":
        hh = [hh[i] for i in rng.permutation(n)]
    df = pd.DataFrame({"hh_id": pd.Series(hh, dtype=dtype),
                       "line_no": pd.array([None if rng.random() < 0.05 else int(x) for x in rng.integers(1, 9, n)],
                                           dtype="Int64")})
    for key in ("0123456789abcdef", "s3cr3t-s3cr3t-00"):
        for cols in (["hh_id", "line_no"], ["hh_id"], ["line_no"], []):
            want = pd.util.hash_pandas_object(df[cols], index=False, hash_key=key).to_numpy(dtype=np.uint64)
            np.testing.assert_array_equal(hash_rows(df[cols], key), want)


def test_first_per_case_equals_drop_duplicates_shrunk():
    """The same with hypothesis: text keys, and ids sorted in either key order (files sort cases
    by their id items, not always in the dictionary's order)."""
    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from([1, 2, 3, None]), st.sampled_from(["a", "b", None])),
                    max_size=12))
    def check(rows):
        df = pd.DataFrame({"R": pd.array([r[0] for r in rows], dtype="Int64"),
                           "H": pd.array([r[1] for r in rows], dtype="string"),
                           "_source_row": range(1, len(rows) + 1)})
        pd.testing.assert_frame_equal(first_per_case(df, ["R", "H"]), df.drop_duplicates(["R", "H"]))

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 99_999)), max_size=12),
           st.sampled_from(["as drawn", "by R then H", "by H then R"]))
    def check_packed(rows, order):
        if order != "as drawn":
            rows = sorted(rows, key=(lambda r: r) if order == "by R then H" else (lambda r: (r[1], r[0])))
        df = pd.DataFrame({"R": pd.array([r[0] for r in rows], dtype="Int8"),
                           "H": np.array([r[1] for r in rows], dtype=np.int32),
                           "_source_row": range(1, len(rows) + 1)})
        pd.testing.assert_frame_equal(first_per_case(df, ["R", "H"]), df.drop_duplicates(["R", "H"]))

    check()
    check_packed()


def _household_case(seed: int, order: str) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    pool = ["h01", "h02", "h03", "h04", "h05", "h10"]
    hh = _values(rng, int(rng.integers(0, 10)), pool, 0.1)
    pp = _values(rng, int(rng.integers(0, 25)), pool + ["x9"], 0.1)
    if order == "sorted":  # unique households in id order, members grouped in that order
        hh = sorted({h for h in hh if h is not None})
        pp = _order(pp, "sorted", rng)
        if seed % 3 == 0:  # exactly the households' runs: the no-look-up path
            pp = [h for h in hh for _ in range(int(rng.integers(1, 4)))]
    else:
        pp = _order(pp, "shuffled", rng)
    return pd.Series(hh, dtype="string"), pd.Series(pp, dtype="string")


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("order", ORDERS)
def test_household_keys_equal_pandas_maps(seed, order):
    h, p = _household_case(seed, order)
    k = HouseholdKeys(h, p)
    rows = pd.Series(np.arange(len(h)))
    first = rows.groupby(h.to_numpy(), dropna=True).first()  # id -> row of its first household
    want_hh_code = h.map(first).fillna(-1).astype(int).tolist()
    want_pp_hh = p.map(first).fillna(-1).astype(int).tolist()
    assert k.hh_code.tolist() == want_hh_code
    assert k.hh_first.tolist() == (h.notna() & ~h.duplicated()).tolist()
    assert k.pp_hh.tolist() == want_pp_hh
    # persons share a code exactly when they share an id (pd.factorize up to renumbering)
    fz, _ = pd.factorize(p, use_na_sentinel=True)
    pairs = {(a, b) for a, b in zip(k.pp_code.tolist(), fz.tolist())}
    assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs})
    assert all((a < 0) == (b < 0) for a, b in pairs)
    assert all(c == hh for c, hh in zip(k.pp_code.tolist(), want_pp_hh) if hh >= 0)
    assert all(c >= len(h) for c, hh, v in zip(k.pp_code.tolist(), want_pp_hh, p.tolist())
               if hh < 0 and not pd.isna(v))

    rng = np.random.default_rng(seed + 1000)
    kept = rng.random(len(h)) < 0.7
    assert k.in_households(kept).tolist() == p.isin(h[kept].dropna()).fillna(False).astype(bool).tolist()
    chosen = rng.random(len(p)) < 0.6
    counts = p[chosen].value_counts()
    want_counts = [int(counts.get(v, 0)) if f else 0 for v, f in zip(h.tolist(), k.hh_first.tolist())]
    got_counts = k.persons_per_household(chosen)
    assert got_counts.tolist() == want_counts
    spread = k.per_household_row(got_counts)
    assert spread.tolist() == [0 if pd.isna(v) else int(counts.get(v, 0)) for v in h.tolist()]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("order", ORDERS)
def test_duplicated_pairs_equal_dataframe_duplicated(seed, order):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    rows = list(zip(_values(rng, n, [-1, 0, 1, 2, 2 ** 30 - 1], 0.0),
                    _values(rng, n, [1, 2, 3, 2 ** 31 - 1, -(2 ** 31)], 0.15)))
    if order == "sorted":
        rows = sorted(rows, key=lambda r: (r[0], r[1] is not None, r[1] or 0))
    else:
        rows = [rows[i] for i in rng.permutation(n)]
    code = np.array([r[0] for r in rows], dtype=np.int64)
    line = pd.Series([r[1] for r in rows], dtype="Int32")
    want = pd.DataFrame({"code": code, "line": line}).duplicated(keep="first").to_numpy()
    assert duplicated_pairs(code, line).tolist() == want.tolist()


# -- parallel ------------------------------------------------------------------------------------

@pytest.mark.parametrize("parallel", [True, False])
def test_map_in_threads_equals_map_and_raises_the_first_error_in_order(parallel):
    items = list(range(25))
    assert map_in_threads(lambda x: x * 3, items, parallel) == list(map(lambda x: x * 3, items))

    def fails(x):
        if x in (7, 3):
            raise ValueError(x)
        return x

    with pytest.raises(ValueError) as e:
        map_in_threads(fails, items, parallel)
    assert e.value.args == (3,)


def test_one_thread_maps_in_the_calling_thread(monkeypatch):
    # a worker process that already fills a core sets one thread: the maps then run in it
    import threading

    from migdata._kernels import parallel

    monkeypatch.setattr(parallel, "THREADS", parallel.THREADS)  # restored after the test
    parallel.set_threads(0)
    assert parallel.THREADS == 1
    me = threading.get_ident()
    got = map_in_threads(lambda x: (x * 3, threading.get_ident()), list(range(9)), parallel=True)
    assert [g[0] for g in got] == [x * 3 for x in range(9)]
    assert {g[1] for g in got} == {me}


def test_a_worker_keeps_its_freed_memory_where_the_c_library_allows_it():
    # glibc takes the settings (mallopt returns 1 for each); another C library: nothing changes.
    # In a process of its own: the setting stays for the life of the process it is made in.
    import platform
    import subprocess
    import sys

    code = ("from migdata._kernels.parallel import keep_freed_memory; import numpy as np; "
            "ok = keep_freed_memory(); a = np.ones(50_000_000); del a; b = np.ones(1 << 20); "
            "print(ok, float(b.sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(platform.libc_ver()[0] == "glibc"), str(float(1 << 20))]


def test_freed_heap_memory_goes_back_to_the_kernel_when_released():
    # 2,000 arrays of 100 kB come from the heap (below glibc's mmap threshold); all but the last
    # are freed, which pins the heap's top, so only malloc_trim hands the 200 MB back. Measured in
    # a process of its own (its resident memory is not shared with the test run's).
    import platform
    import subprocess
    import sys

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's: elsewhere release_freed_memory does nothing")
    code = ("from migdata._kernels.parallel import release_freed_memory; import numpy as np\n"
            "def rss():\n"
            "    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])\n"
            "a = [np.ones(12_500) for _ in range(2_000)]\n"
            "last = a[-1]; del a\n"
            "before = rss(); ok = release_freed_memory(); after = rss()\n"
            "print(ok, before - after)")
    ok, dropped_kb = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout.split()
    assert ok == "True"
    assert int(dropped_kb) > 150_000  # of the ~200 MB freed


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "float64"])
def test_isin_equals_numpy_isin(seed, dtype):
    rng = np.random.default_rng(seed)
    info_lo = -3 if dtype != "uint8" else 0
    values = rng.integers(info_lo, 12, 5_000).astype(dtype)
    if dtype == "float64":
        values[rng.random(len(values)) < 0.1] = np.nan
    tests = [[], [1], [2, 3], [0, -1], [1.0, 2.5], [300], [-128, 127],
             list(rng.integers(-3, 12, rng.integers(1, 6)))]
    for test in tests:
        np.testing.assert_array_equal(kernel_isin(values, test), np.isin(values, test), err_msg=str(test))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("dtype", ["Int8", "Int16", "Int32", "Int64", "int8", "int64", "uint8", "float64", "object"])
def test_interval_codes_equal_searchsorted(seed, dtype):
    """Ages grouped between whole cuts (``model.agegroups.age_group``): the table of whole values
    gives each row the interval the float search gives; negative ages, missing ages, halves and
    an upper bound take their own paths."""
    rng = np.random.default_rng(seed)
    lo = 0 if dtype == "uint8" or seed % 2 else -3
    v = rng.integers(lo, 120, 3_000)
    s = pd.Series(list(v), dtype=object) if dtype == "object" else pd.Series(v).astype(dtype)
    if dtype[0] == "I" or dtype == "float64":
        s.iloc[rng.integers(0, len(s), 300)] = None
    if dtype == "float64" and seed % 3 == 0:
        s = s + 0.5
    for cuts, upper in (([0, 15, 25, 60], None), ([0, 5, 10, 15, 18, 65], 100), ([3, 4, 99], 50), ([0], None)):
        a = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        idx = np.searchsorted(np.asarray(cuts, dtype="float64"), a, side="right") - 1
        bad = np.isnan(a) | (idx < 0) | ((a >= upper) if upper is not None else False)
        np.testing.assert_array_equal(interval_codes(s, np.asarray(cuts), upper), np.where(bad, -1, idx),
                                      err_msg=f"{cuts} {upper}")


@pytest.mark.parametrize("ahead", [0, 1, 2, 5])
@pytest.mark.parametrize("seed", range(4))
def test_imap_in_threads_equals_the_plain_generator(ahead, seed):
    """Items of random cost come back in order, each with its own result; an error is raised
    when its item is reached, after the items before it were given; at most ``ahead`` items are
    computed beyond the one the caller holds."""
    import threading
    import time

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 12))
    delays = rng.random(n) * 0.004
    bad = int(rng.integers(0, n)) if n and seed % 2 else -1
    started: list[int] = []
    lock = threading.Lock()

    def fn(i: int) -> int:
        with lock:
            started.append(i)
        time.sleep(delays[i])
        if i == bad:
            raise ValueError(i)
        return i * i

    got = []
    with pytest.raises(ValueError) if bad >= 0 else contextlib.nullcontext():
        for i, r in imap_in_threads(fn, range(n), ahead):
            with lock:
                assert max(started) <= i + ahead  # never more than `ahead` beyond the caller
            got.append((i, r))
    want = [(i, i * i) for i in range(n if bad < 0 else bad)]
    assert got == want


@pytest.mark.parametrize("helpers", [0, 1, 2])
@pytest.mark.parametrize("seed", range(4))
def test_map_shared_equals_map_with_or_without_helpers(helpers, seed):
    """Items of random cost come back in order whoever computed them; an error is raised, the
    first in item order, only once every item is done; with threads waiting in help_others,
    they take items (the caller's own thread computes the rest) and return once told to."""
    import threading
    import time

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 14))
    delays = 0.01 + rng.random(n) * 0.02
    bad = sorted(rng.choice(n, size=min(n, 2), replace=False).tolist()) if n and seed % 2 else []
    ran: dict[int, int] = {}
    lock = threading.Lock()
    stop = threading.Event()
    waiting = threading.Barrier(helpers + 1)

    def help_() -> None:
        waiting.wait()
        help_others(stop.is_set, poll=0.01)

    threads = [threading.Thread(target=help_) for _ in range(helpers)]
    for t in threads:
        t.start()
    waiting.wait()
    time.sleep(0.02)  # the helpers are waiting for items

    def fn(i: int) -> int:
        time.sleep(delays[i])
        with lock:
            ran[i] = threading.get_ident()
        if i in bad:
            raise ValueError(i)
        return i * i

    try:
        with pytest.raises(ValueError) if bad else contextlib.nullcontext() as err:
            assert map_shared(fn, range(n)) == [i * i for i in range(n)]
        if bad:
            assert err.value.args == (bad[0],)
        assert sorted(ran) == list(range(n))  # every item ran once, failing or not
        me = threading.get_ident()
        if helpers and n >= 4:
            assert any(t != me for t in ran.values())  # the helpers took some
        if not helpers:
            assert all(t == me for t in ran.values())
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert not any(t.is_alive() for t in threads)


@pytest.mark.parametrize("seed", range(8))
def test_lexsort_ints_equals_numpy_lexsort(seed):
    # ties, negative codes (a Total of -1), grouped and shuffled rows, one key, ranges too wide
    # to pack (numpy's own lexsort then)
    from migdata._kernels.keys import lexsort_ints

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3000))
    widths = [int(w) for w in rng.choice([1, 2, 3, 7, 50, 40_000, 2**40], size=int(rng.integers(1, 6)))]
    keys = [rng.integers(-1, w, n) for w in widths]
    if seed % 2:
        grouped = np.lexsort(keys[-2:])
        keys = [k[grouped] for k in keys]
    assert np.array_equal(lexsort_ints(keys), np.lexsort(keys))
    narrow = [k.astype(np.int32) for k in keys]
    assert np.array_equal(lexsort_ints(narrow), np.lexsort(narrow))


def test_string_buffers_give_each_value_as_its_bytes():
    # plain, large, sliced (a non-zero offset), chunked, with missing values and empty
    from migdata._kernels.text import string_buffers

    vals = ["ab", None, "", "x\u00e9y", "0103"]
    for arr in (pa.array(vals), pa.array(vals, type=pa.large_string()), pa.array(["zz"] + vals).slice(1),
                pa.chunked_array([vals[:2], vals[2:]]), pa.array([], type=pa.string())):
        offsets, data = string_buffers(arr)
        n = len(arr)
        got = [bytes(data[offsets[i]:offsets[i + 1]]) for i in range(n)]
        assert got == [(v or "").encode() for v in arr.to_pylist()]


@pytest.mark.parametrize("seed", SEEDS)
def test_count_byte_counts_as_bytes_count(seed, monkeypatch):
    """Blocks of 7 bytes (so that runs of the byte cross block ends) give bytes.count's count,
    on bytes, a bytearray and a memoryview, for the newline and another byte."""
    import migdata._kernels.text as text

    monkeypatch.setattr(text, "_COUNT_BLOCK", 7)
    rng = np.random.default_rng(seed)
    raw = rng.choice(np.frombuffer(b"ab\n\n\xff", dtype=np.uint8), int(rng.integers(0, 60))).tobytes()
    for data in (raw, bytearray(raw), memoryview(raw)):
        assert text.count_byte(data) == raw.count(b"\n")
        assert text.count_byte(data, 0xFF) == raw.count(b"\xff")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtypes", [("Int8", "Int32"), ("Int64", "int64"), ("UInt16", "string"), ("float64", "Int16")])
def test_run_starts_equals_the_pandas_formula(seed, dtypes):
    """Where a run of equal keys starts, a missing key starting one, for masked and plain
    integer keys (compared at their own width), text and floats: the formula of its docstring."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 50))
    cols = {}
    for i, dt in enumerate(dtypes):
        # runs of equal values, as a file's cases come; a missing value (0 under the mask)
        # before or after a 0
        heads = _values(rng, n, [0, 1, 5, 99], 0.0 if dt == "int64" else 0.3)
        vals = [v for v in heads for _ in range(int(rng.integers(1, 4)))][:n]
        if dt == "string":
            vals = [None if v is None else f"k{v}" for v in vals]
        if dt == "float64":
            vals = [np.nan if v is None else float(v) for v in vals]
        cols[f"k{i}"] = pd.Series(vals, dtype=dt)
    df = pd.DataFrame(cols)
    keys = list(df.columns)
    # (an NA comparison, as text keys give at the first row or beside a missing key, starts a run)
    want = np.flatnonzero(df[keys].ne(df[keys].shift()).fillna(True).astype(bool).any(axis=1)
                          | df[keys].isna().any(axis=1))
    assert run_starts(df, keys).tolist() == want.tolist()


@pytest.mark.parametrize("seed", range(6))
def test_packed_keys_merge_as_the_keys_do(seed):
    """Merging on :func:`packed_keys` equals merging on the key columns, on seeded frames of
    integer keys of several widths (negative values too), with rows of one frame missing from
    the other; a missing key, a text key or ranges beyond 63 bits give None."""
    from migdata._kernels.keys import packed_keys

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    dtypes = ["Int8", "Int16", "int64", "Int32", "int16"]
    left = pd.DataFrame({f"k{i}": pd.array(rng.integers(-3, 40, n), dtype=dt) for i, dt in enumerate(dtypes)})
    left["x"] = np.arange(n)
    right = left.sample(frac=0.7, random_state=seed).drop_duplicates(subset=[f"k{i}" for i in range(5)])
    right = right.assign(y=rng.random(len(right))).drop(columns="x")
    right.loc[right.index[:5], "k1"] = 41  # keys the left frame lacks
    keys = [f"k{i}" for i in range(5)]
    want = left.merge(right, on=keys, how="left", sort=False)
    a, b = packed_keys([left, right], keys)
    got = left.assign(_k=a).merge(right.drop(columns=keys).assign(_k=b), on="_k", how="left",
                                  sort=False).drop(columns="_k")
    pd.testing.assert_frame_equal(got, want)
    # equal codes exactly where every key is equal
    pairs = rng.integers(0, n, (500, 2))
    for i, j in pairs:
        assert (a[i] == a[j]) == bool((left.loc[i, keys] == left.loc[j, keys]).all())
    with_na = left.copy()
    with_na.loc[0, "k0"] = pd.NA
    assert packed_keys([with_na, right], keys) is None
    assert packed_keys([left.astype({"k2": "string"}), right], keys) is None
    huge = pd.DataFrame({"a": np.array([0, 2**32], dtype=np.int64), "b": np.array([0, 2**31], dtype=np.int64)})
    assert packed_keys([huge], ["a", "b"]) is None  # 2**33 x 2**31 codes do not fit in 62 bits
    assert packed_keys([huge.assign(b=0)], ["a", "b"]) is not None


@pytest.mark.parametrize("seed", range(6))
def test_left_join_codes_equals_the_merge(seed):
    """:func:`left_join_codes` equals a left merge on the codes (same columns, dtypes, order and
    index) when every row matches: the same codes in the same order, or shuffled; and gives None
    when a row has no match."""
    from migdata._kernels.keys import left_join_codes

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 2000))
    b = rng.choice(10 * n, n, replace=False).astype(np.int64)
    right = pd.DataFrame({"y": pd.array(rng.integers(0, 9, n), dtype="Int8"), "z": rng.random(n),
                          "t": pd.array(rng.choice(["a", None, "c"], n), dtype="string"),
                          "_joined": True}, index=rng.permutation(n) + 7)
    for a in (b.copy(), rng.permutation(b), rng.choice(b, int(rng.integers(1, 3 * n)))):
        df = pd.DataFrame({"x": rng.integers(0, 5, len(a)), "w": pd.array(rng.random(len(a)) < 0.5)},
                          index=np.arange(len(a)) * 3)
        want = df.assign(_k=a).merge(right.assign(_k=b), on="_k", how="left", sort=False).drop(columns="_k")
        pd.testing.assert_frame_equal(left_join_codes(df, right, a, b), want)
    assert left_join_codes(df, right, np.r_[a, 10 * n + 1], b) is None


@pytest.mark.parametrize("seed", range(8))
def test_join_records_equals_the_merge_of_first_records(seed):
    """``join_records`` without repeated cases equals its docstring's merge with the first
    record per case, on seeded record tables: records missing, several per case, cases out of
    order, a missing id part."""
    from migdata.profiles.engine import join_records

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    ids = pd.DataFrame({"R": pd.array(rng.integers(1, 4, n), dtype="Int8"),
                        "H": pd.array(rng.integers(1, 60, n), dtype="Int16"),
                        "_occ": rng.integers(1, 4, n).astype(np.int16)})
    ids = ids.drop_duplicates().reset_index(drop=True)
    if seed % 2 == 0:
        ids = ids.sort_values(["R", "H", "_occ"]).reset_index(drop=True)
    other = ids.sample(frac=float(rng.uniform(0.3, 1.0)), replace=seed % 3 == 0, random_state=seed)
    if seed % 2 == 0:
        other = other.sort_values(["R", "H", "_occ"], kind="stable")
    other = other.assign(V=rng.integers(0, 100, len(other)), _source_row=np.arange(len(other)) + 1000)
    df = ids.assign(A=rng.random(len(ids)), _source_row=np.arange(len(ids)) + 1)
    if seed == 5:
        df.loc[0, "H"] = pd.NA
    keys = ["R", "H", "_occ"]
    got = join_records(df, other, keys, None)
    right = other.drop(columns=["_source_row"]).drop_duplicates(keys).assign(_joined=True)
    want = df.merge(right, on=keys, how="left", sort=False)
    want["_joined"] = want["_joined"].notna()
    pd.testing.assert_frame_equal(got, want)
