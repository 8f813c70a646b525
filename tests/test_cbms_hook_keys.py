"""The CBMS 2022 hook's household ids and (household, line) matching equal the plain pandas
operations they replace, on seeded random inputs with the awkward cases: missing items, items
wider than their width, roster rows without a line, list entries of households not on the roster,
duplicate pairs."""

import numpy as np
import pandas as pd
import pytest

import migdata.profiles.cbms_2022_hpq as H


@pytest.mark.parametrize("seed", range(9))
def test_household_id_equals_the_items_as_text(seed):
    rng = np.random.default_rng(seed)
    n = 500
    df = pd.DataFrame({c: pd.array(rng.integers(0, 10 ** w, n), dtype="Int64") for c, w in zip(H.ID, H.WIDTHS)})
    if seed >= 3:  # households' rows in runs (members, list entries), as in a file: formatted once a run
        df = df.iloc[np.sort(rng.integers(0, n // 5, n))].reset_index(drop=True)
        if seed == 6:  # a run split by a one-digit change in the middle
            df.loc[n // 2:, "HSN"] = (df.loc[n // 2:, "HSN"] + 1) % 10 ** 4
    if seed % 3 == 1:
        df.loc[rng.choice(n, 5, replace=False), H.ID[rng.integers(len(H.ID))]] = pd.NA
    if seed % 3 == 2:
        df.loc[rng.choice(n, 5, replace=False), "EAN"] = 10 ** 6 + 5  # wider than its 6 digits
    got, want = H._hh_id(df), H._hh_id_text(df)
    pd.testing.assert_series_equal(got, want)
    if seed % 3 == 0:
        assert got.str.len().eq(sum(H.WIDTHS)).all()


def _merge_reference(roster: pd.DataFrame, lists: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    hit = roster[["hh_id", "line"]].merge(lists[["hh_id", "line"]].assign(_m=True), on=["hh_id", "line"],
                                          how="left")["_m"]
    known = lists.merge(roster[["hh_id", "line"]].assign(_r=True), on=["hh_id", "line"], how="left")
    # the entries reported as naming no roster line (a matched entry repeats per matching person)
    return hit.notna().to_numpy(), known.loc[known["_r"].isna(), "_source_row"].to_numpy()


@pytest.mark.parametrize("seed", range(8))
def test_pair_keys_match_as_the_merges_did(seed):
    rng = np.random.default_rng(100 + seed)
    hh = [f"{i:027d}" for i in rng.integers(0, 10 ** 6, 60)]
    n = 400
    p = pd.DataFrame({"hh_id": pd.Series(rng.choice(hh, n), dtype="string"),
                      "line_no": pd.array(rng.integers(1, 12, n), dtype="Int64")})
    p.loc[rng.choice(n, 10, replace=False), "line_no"] = pd.NA
    roster, households = H._roster(p)
    m = 150
    lists = pd.DataFrame({"hh_id": rng.choice(hh + ["999999999999999999999999999"], m),
                          "line": rng.integers(0, 14, m), "_source_row": np.arange(m)})
    lists = lists.drop_duplicates(["hh_id", "line"])
    r_key, l_key = H._pair_keys(roster, households, lists)
    # the households' roster codes looked up once per record and carried by the lists: the same keys
    r2, l2 = H._pair_keys(roster, households, lists.assign(_hh=H._household_codes(households, lists)))
    assert (r2 == r_key).all() and (l2 == l_key).all()
    hit, unknown_rows = _merge_reference(roster, lists)
    assert (np.isin(r_key, l_key[l_key >= 0]) == hit).all()
    unknown = ~np.isin(l_key, r_key[r_key >= 0])
    assert lists["_source_row"].to_numpy()[unknown].tolist() == unknown_rows.tolist()
    assert hit.any() and len(unknown_rows) and (~unknown).any()  # every outcome occurs


@pytest.mark.parametrize("seed", range(4))
def test_member_lists_read_as_the_regular_expressions_did(seed):
    rng = np.random.default_rng(200 + seed)
    n = 400 if seed else 0
    kinds = [None, "", "01 0", "a1b2c3", "0102 03", "7"] + (["٠١٢٣"] if seed == 3 else [])  # Arabic-Indic digits
    vals = [kinds[rng.integers(len(kinds))] if rng.random() < 0.3 else
            "".join(f"{x:02d}" for x in rng.integers(1, 25, rng.integers(1, 8))) for _ in range(n)]
    sp = pd.DataFrame({"hh_id": pd.Series([f"{i:027d}" for i in range(n)], dtype="str"),
                       "_source_row": np.arange(n, dtype=np.int64) * 3, "P02_1A_SSS": pd.Series(vals, dtype=object)},
                      index=np.arange(n) + 5)
    if seed % 2:  # the households' roster codes are carried along
        sp["_hh"] = rng.integers(-1, 50, n)
    pd.testing.assert_frame_equal(H._line_lists(sp, "P02_1A_SSS"), H._line_lists_text(sp, "P02_1A_SSS"))


@pytest.mark.parametrize("seed", range(6))
def test_positions_equal_the_index_lookup(seed):
    """A person's household position (Arrow's hash) equals pandas' index lookup of the ids as
    text, with ids absent, missing (seed 3: pandas' rules) and repeated (seed 5: pandas' error)."""
    rng = np.random.default_rng(300 + seed)
    ids = pd.Series([f"{i:027d}" for i in rng.choice(10 ** 6, 200, replace=False)], dtype="string")
    of = pd.Series(rng.choice(list(ids) + ["999999999999999999999999999"], 700), dtype="string")
    if seed == 3:
        of[:5] = pd.NA
        ids[0] = pd.NA
    if seed == 5:
        ids[1] = ids[0]
        with pytest.raises(Exception):
            pd.Index(ids.astype(str)).get_indexer(of.astype(str))
        with pytest.raises(Exception):
            H._positions(ids, of)
        return
    want = pd.Index(ids.astype(str)).get_indexer(of.astype(str))
    assert (H._positions(ids, of) == want).all() and (want == -1).any()
