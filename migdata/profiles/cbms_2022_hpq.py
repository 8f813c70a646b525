"""Hooks of the ``cbms_2022_hpq`` profile: what the TOML cannot say as data.

- countries (CBMS 9001-9256) -> ISO 3166 alpha-3 through ``cbms_countries.csv``;
- PPMM places (B01_PHILIPPINES1/2/4) -> 10-digit PSGC through :func:`migdata.areas.ppmm_to_psgc`;
- ``lf_status`` from Section E (E01, E03, E25, E32) for persons 15+;
- OWWA and PhilHealth membership of persons from the household's Section P member lists
  (P02.1C, P02.1G: two-digit line numbers, as PSA's validation scripts read them);
- ``cash_abroad`` and ``income`` summed over the case's Section H records (when a file has
  several), those of the case's first block when its id comes back later in the file;
- the skip rules of DOMAIN.md §2.2.5 (PSA ``rcbms-app`` validation scripts), each violation
  reported with the household, line, item and value (MD550-MD559) and the answer set missing.

The engine (``migdata/profiles/engine.py``) builds ``persons`` from Section A joined with
Sections B, C, E on the case id and the occurrence number, and ``households`` from the geo
record joined with H, K, P; :func:`derive` then completes both.

Example:
    >>> countries()["9201"]
    'SAU'
    >>> member_lines("0103  ")
    [1, 3]
"""

from __future__ import annotations

import io
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from migdata._kernels.keys import run_starts
from migdata._kernels.text import arrow_text, string_buffers, take_text
from migdata.errors import MigdataError
from migdata.model.report import ImportReport
from migdata.profiles.engine import CaseBlocks, code_table, join_records

ID = ["REG_PSGC", "PROV_PSGC", "CITY_MUN_PSGC", "BRGY_PSGC", "EAN", "BSN", "HUSN", "HSN"]
WIDTHS = [2, 2, 2, 3, 6, 4, 4, 4]
STRING = pd.StringDtype("pyarrow")
COUNTRY_DK = "9997"
OF_NO_SECTION_E = (1, 2, 3, 6)  # OFs who skip Section E (DOMAIN §2.2.5)
B01_B05 = ["B01_MIG", "B01_PHILIPPINES1", "B01_COUNTRY1", "B02_FYRSRESIDE", "B01_PHILIPPINES2",
           "B01_COUNTRY2", "B03_REASONFYRS", "B04_SMOSRESIDE", "B01_PHILIPPINES4", "B01_COUNTRY4",
           "B05_REASONSMOS"]
B06_B10 = ["B06_OFI", "B07_LEAVE_MONTH", "B07_LEAVE_YR", "B08_STAY", "B09_COUNTRY", "B10_PTSENDMNY"]
E_ITEMS = ["E01_WORK", "E03_JOBBUS", "E25_PWLOOKEST", "E32_WILLINGTOWORK"]
# tidy columns filled from each group of items (set missing when the items break a skip rule)
TIDY_B01_B05 = ["res_birth", "res_birth_place", "res_birth_country", "res_5y", "res_5y_place",
                "res_5y_country", "reason_5y", "res_6m", "res_6m_place", "res_6m_country", "reason_6m"]
TIDY_B06_B10 = ["of_status", "of_country", "departure_month", "departure_year", "months_abroad",
                "times_sent_money"]
PLACES = {  # residence item, PPMM item, country item, tidy prefix
    "B01_MIG": ("B01_PHILIPPINES1", "B01_COUNTRY1", "res_birth"),
    "B02_FYRSRESIDE": ("B01_PHILIPPINES2", "B01_COUNTRY2", "res_5y"),
    "B04_SMOSRESIDE": ("B01_PHILIPPINES4", "B01_COUNTRY4", "res_6m"),
}
P02_LISTS = {"P02_1A_SSS": "sss_member", "P02_1B_GSIS": "gsis_member", "P02_1C_OWWA": "owwa_member",
             "P02_1F_PAGIBIG": "pagibig_member", "P02_1G_PHLHEALTH": "philhealth"}
# Section L1 list item -> (the Section L yes/no item that asks it, tidy column, asked of women 10+)
L1_LISTS = {"L02_LNO": ("L01_PREG", "pregnant_3y", True), "L07_LNO": ("L06_CPREG", "pregnant_now", True),
            "L09_LNO": ("L08_LACTMOM", "breastfeeding", True), "L16_LNO": ("L15_DIS", "disability", False),
            "L34_LNO": ("L33_TMSICK", "ill_12m", False)}
ELEMENTARY_OR_MORE = ["elementary_graduate", "jhs_undergraduate", "jhs_graduate", "shs_undergraduate",
                      "shs_graduate", "post_secondary", "short_cycle_tertiary", "college_undergraduate",
                      "college_graduate", "post_graduate"]


@lru_cache(maxsize=1)
def countries() -> dict[str, str | None]:
    """CBMS country code (text) -> ISO3 (None for 9997 don't know and codes without ISO3): the
    code table ``cbms_countries.csv`` as profiles read it (``codes_file``)."""
    return {k: (v or None) for k, v in code_table("cbms_countries.csv", "cbms_code", "iso3").items()}


def member_lines(text: Any) -> list[int]:
    """Line numbers in a CBMS member list: two digits per member ("0103" -> [1, 3])."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return []
    s = "".join(ch for ch in str(text) if ch.isdigit())
    return [int(s[i:i + 2]) for i in range(0, len(s) - 1, 2)]


def _hh_id(df: pd.DataFrame) -> pd.Series:
    """The household id: the identification items as text, each padded with zeros to its width,
    joined. Equals :func:`_hh_id_text` (tested against it); for items that are all present and
    fit their widths it is two whole numbers (area, then the rest: 9 and 18 digits) formatted by
    Arrow, instead of a Python string per item and row, once per run of equal ids."""
    vals = []
    for c, w in zip(ID, WIDTHS):
        v = pd.to_numeric(df[c], errors="coerce") if c in df.columns else None
        if v is None or v.isna().any():
            return _hh_id_text(df)
        v = v.to_numpy(dtype="float64")
        if not ((v >= 0) & (v < 10 ** w) & (v == np.floor(v))).all():
            return _hh_id_text(df)
        vals.append(v.astype(np.int64))
    import pyarrow as pa
    import pyarrow.compute as pc

    def number(items: range) -> np.ndarray:
        out = np.zeros(len(df), dtype=np.int64)
        for i in items:
            out = out * 10 ** WIDTHS[i] + vals[i]
        return out

    def text(v: np.ndarray, items: range) -> pa.Array:
        return pc.utf8_lpad(pc.cast(pa.array(v), pa.string()), sum(WIDTHS[i] for i in items), "0")

    area, rest = number(range(4)), number(range(4, len(ID)))
    # a household's rows stand together (its members, its list entries): its id is formatted
    # once, at the first row of each run, and repeated
    head = run_starts(df, ID)
    runs = 2 * len(head) < len(df)
    at = head if runs else slice(None)
    out = pc.binary_join_element_wise(text(area[at], range(4)), text(rest[at], range(4, len(ID))), "")
    if runs:
        out = out.take(pa.array(np.repeat(np.arange(len(head)), np.diff(np.r_[head, len(df)]))))
    return pd.Series(pd.array(out, dtype=pd.StringDtype(na_value=np.nan)), index=df.index)


def _hh_id_text(df: pd.DataFrame) -> pd.Series:
    """The household id item by item as text (what :func:`_hh_id` equals)."""
    parts = [df[c].astype("Int64").astype(str).str.zfill(w) for c, w in zip(ID, WIDTHS)]
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    return pd.to_numeric(df[col], errors="coerce").astype("float64")


class _Reporter:
    def __init__(self, report: ImportReport, source: str | None) -> None:
        self.report = report
        self.source = source

    def rows(self, code: str, frame: pd.DataFrame, mask: pd.Series | np.ndarray, column: str,
             row_col: str, action: str = "set_missing", value_col: str | None = None,
             values: Any = None, **fields: Any) -> None:
        """Report the rows of ``frame`` where ``mask``; the values quoted are column
        ``value_col`` (default ``column``) of the frame, or ``values`` (one per row of the
        frame, or a function giving them for the rows of a mask: computed only when a row
        is reported)."""
        m = np.asarray(mask, dtype=bool)
        if not m.any():  # (a record of no row records nothing)
            return
        sel = frame.loc[m]
        if values is not None:
            got = values(m) if callable(values) else np.asarray(values, dtype=object)[m]
            vals = pd.Series(np.asarray(got, dtype=object), index=sel.index)
        else:
            vals = sel.get(value_col or column)
        line = sel["LNO"] if "LNO" in sel else pd.Series(None, index=sel.index, dtype=object)
        self.report.record(code, table="persons", source_file=self.source, column=column, action=action,
                           rows=sel[row_col], values=vals,
                           records="household " + sel["hh_id"].astype(str) + " line " + line.astype(str),
                           each={"hh_id": sel["hh_id"], "line": line}, **fields)


def _first_answered(frame: pd.DataFrame, items: list[str]) -> tuple[pd.Series, Any]:
    """Per row: whether any item is answered, and a function giving the name of the first
    answered item of the rows of a mask (None where none is): it is only asked when a rule is
    broken, so the common clean file never looks for it."""
    present = [c for c in items if c in frame.columns]
    if not present:
        return (pd.Series(False, index=frame.index),
                lambda m: np.full(int(np.count_nonzero(m)), None, dtype=object))
    anyans = frame[present].notna().any(axis=1)

    def first(m: np.ndarray) -> np.ndarray:
        ans = frame.loc[m, present].notna()
        return ans.idxmax(axis=1).where(ans.any(axis=1), None).to_numpy(dtype=object)

    return anyans, first


def _person_frame(raw: dict[str, pd.DataFrame], blocks: CaseBlocks | None) -> pd.DataFrame:
    """Section A rows with their B, C, E items (occurrence-aligned, within the case's block when
    its id is keyed again later: :func:`migdata.profiles.engine.join_records`) and each record's
    file line."""
    keys = ID + ["_occ"]
    a = raw["SECTION_A"]
    cols = [c for c in keys + ["_source_row", "_source_file", "LNO", "A07_AGE"] if c in a.columns]
    f = a[cols]
    for rec, tag in (("SECTION_B", "B"), ("SECTION_C", "C"), ("SECTION_E", "E")):
        if rec not in raw:
            continue
        r = raw[rec]
        take = [c for c in r.columns if c not in f.columns or c in keys or c in ("_source_row", "_source_file")]
        r = r[take].assign(**{f"_row_{tag}": r["_source_row"]})
        f = join_records(f, r, [k for k in keys if k in r.columns], blocks).drop(columns=["_joined"])
    f = f.rename(columns={"_source_row": "_row_A"}).drop(columns=["_source_file"], errors="ignore")
    f["hh_id"] = _hh_id(f)
    return f


def _orphans(raw: dict[str, pd.DataFrame], rep: _Reporter, blocks: CaseBlocks | None) -> None:
    """Section B/C/E occurrences with no Section A occurrence in their case block (no roster line
    to belong to)."""
    keys = ID + ["_occ"]
    a = raw["SECTION_A"]
    a = a[[c for c in keys + ["_source_row", "_source_file"] if c in a.columns]]
    for rec in ("SECTION_B", "SECTION_C", "SECTION_E"):
        if rec not in raw or raw[rec].empty:
            continue
        r = raw[rec][[c for c in keys + ["_source_row", "_source_file"] if c in raw[rec].columns]]
        r = join_records(r, a, keys, blocks)
        miss = ~r["_joined"].to_numpy()
        if miss.any():
            r = r.assign(hh_id=_hh_id(r), LNO=r["_occ"])
            rep.rows("MD559", r, miss, "_occ", "_source_row", action="kept", record_type=rec)


def _places(p: pd.DataFrame, f: pd.DataFrame, rep: _Reporter) -> None:
    """Places of residence (a PPMM code in the Philippines, a country code abroad) as PSGC and
    ISO3 text; codes not in the reference are reported (MD555, MD556) and set missing. Each
    distinct code is formatted and read once (:func:`_distinct_codes`)."""
    from migdata.areas import ppmm_to_psgc

    def psgc(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        got = []
        for t in texts:
            try:
                got.append(ppmm_to_psgc(t))
            except MigdataError:
                got.append(None)
        return np.array(got, dtype=object), np.array([g is None for g in got], dtype=bool)

    def iso3(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        vals, bad = _iso(pd.Series(texts, dtype=object))
        return vals.to_numpy(dtype=object), bad

    for res_item, (ppmm_item, ctry_item, prefix) in PLACES.items():
        kind = _num(f, res_item).to_numpy()
        for item, want, width, column, code, read in ((ppmm_item, 2, 4, f"{prefix}_place", "MD555", psgc),
                                                      (ctry_item, 3, 0, f"{prefix}_country", "MD556", iso3)):
            texts, idx = _distinct_codes(_num(f, item).to_numpy(), kind == want, width)
            vals, bad = read(texts)  # per distinct code; bad: not in the reference
            shown = np.array(texts + [None], dtype=object)[idx]
            rep.rows(code, f, np.append(bad, False)[idx], item, "_row_B", values=shown)
            p[column] = take_text(list(vals), idx, p.index)  # (idx len(texts): not used, missing)
    src = pd.Series(p["of_country_src"].astype(object).where(p["of_country_src"].notna(), None).to_numpy(),
                    index=f.index)
    iso_s, bad_c = _iso(src)
    rep.rows("MD556", f, bad_c, "B09_COUNTRY", "_row_B", values=src.to_numpy(dtype=object))
    p["of_country"] = iso_s.astype(STRING).to_numpy()


def _distinct_codes(values: np.ndarray, use: np.ndarray, width: int) -> tuple[list[str], np.ndarray]:
    """The distinct whole numbers among ``values`` where ``use`` (and present), as text padded
    with zeros to ``width`` (``str(int(v)).zfill(width)``), and each row's index into them
    (``len(texts)`` where not used): what ``values[use].astype(int).astype(str).str.zfill(width)``
    gives, each distinct value formatted once."""
    ok = use & ~np.isnan(values)
    uniq, inv = np.unique(values[ok].astype(np.int64), return_inverse=True)
    idx = np.full(len(values), len(uniq), dtype=np.int64)
    idx[ok] = inv.reshape(-1)
    return [str(u).zfill(width) for u in uniq.tolist()], idx


def _iso(codes: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """ISO3 of CBMS country codes (text); the mask of codes that are not in the CBMS list."""
    iso = countries()
    txt = codes.astype(object)
    bad = (txt.notna() & ~txt.isin(list(iso))).to_numpy()
    return txt.map(iso).where(~bad, None), bad


def _skip_rules(p: pd.DataFrame, f: pd.DataFrame, rep: _Reporter) -> None:
    age = _num(f, "A07_AGE")
    b06 = _num(f, "B06_OFI")

    def blank(mask: np.ndarray, cols: list[str]) -> None:
        for c in cols:
            if c in p.columns and mask.any():
                p.loc[mask, c] = pd.NA

    any_b1, first_b1 = _first_answered(f, B01_B05)
    m = ((age < 5) & any_b1).to_numpy()
    rep.rows("MD550", f, m, "B01-B05", "_row_B", values=first_b1)
    blank(m, TIDY_B01_B05)

    any_b6, first_b6 = _first_answered(f, B06_B10)
    m = ((age < 15) & any_b6).to_numpy()
    rep.rows("MD551", f, m, "B06-B10", "_row_B", values=first_b6)
    blank(m, TIDY_B06_B10)

    any_b7, first_b7 = _first_answered(f, B06_B10[1:])
    m = ((b06 == 7) & (age >= 15) & any_b7).to_numpy()
    rep.rows("MD552", f, m, "B07-B10", "_row_B", values=first_b7)
    blank(m, TIDY_B06_B10[1:])

    any_b78, first_b78 = _first_answered(f, ["B07_LEAVE_MONTH", "B07_LEAVE_YR", "B08_STAY"])
    m = (b06.isin([3, 4, 5, 6]) & (age >= 15) & any_b78).to_numpy()
    rep.rows("MD553", f, m, "B07-B08", "_row_B", values=first_b78)
    blank(m, ["departure_month", "departure_year", "months_abroad"])

    m = ((b06 == 5) & (age >= 15) & _num(f, "B10_PTSENDMNY").notna()).to_numpy()
    rep.rows("MD554", f, m, "B10_PTSENDMNY", "_row_B")
    blank(m, ["times_sent_money"])


def _lf_status(p: pd.DataFrame, f: pd.DataFrame, rep: _Reporter) -> None:
    age = _num(f, "A07_AGE")
    b06 = _num(f, "B06_OFI")
    e01, e03, e25, e32 = (_num(f, c) for c in E_ITEMS)
    any_e, first_e = _first_answered(f, E_ITEMS)
    skipped = (b06.isin(OF_NO_SECTION_E) | (age < 5)) & any_e
    rep.rows("MD557", f, skipped.to_numpy(), "Section E", "_row_E", values=first_e)
    answered = any_e & (age >= 15) & ~skipped
    emp = (e01 == 1) | (e03 == 1)
    unemp = ~emp & (e25 == 1) & (e32 == 1)
    status = np.where(emp, 0, np.where(unemp, 1, 2))
    p["lf_status"] = take_text(["employed", "unemployed", "not_in_labour_force"],
                               np.where(answered, status, -1), p.index)


def _line_lists(sp: pd.DataFrame, item: str) -> pd.DataFrame:
    """A Section P member list (two-digit line numbers: "0103" -> lines 1 and 3) as rows
    (hh_id, line, _source_row), row by row and in list order.

    Equals :func:`_line_lists_text` (tested against it): the digits of every list are read as
    bytes, two at a time, instead of a list of strings per household."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(sp[item].astype("string").to_numpy(dtype=object, na_value=None), type=pa.string())
    if len(text) and not pc.all(pc.string_is_ascii(text)).as_py():
        return _line_lists_text(sp, item)  # Python's \d reads digits beyond ASCII too
    offsets, data = string_buffers(pc.fill_null(pc.replace_substring_regex(text, r"\D", ""), ""))
    pairs = np.diff(offsets) // 2
    row = np.repeat(np.arange(len(sp)), pairs)
    k = np.arange(len(row)) - np.repeat(np.cumsum(pairs) - pairs, pairs)  # pair number in its list
    at = offsets[row] + 2 * k
    line = (data[at].astype(np.int64) - 48) * 10 + (data[at + 1].astype(np.int64) - 48)
    out = pd.DataFrame({"hh_id": sp["hh_id"].to_numpy()[row], "line": line,
                        "_source_row": sp["_source_row"].to_numpy()[row]}, index=row)
    if "_hh" in sp.columns:  # the household's roster code (:func:`_household_codes`)
        out["_hh"] = sp["_hh"].to_numpy()[row]
    if "_key" in sp.columns:  # the copy of a repeated case the list belongs to (_copy_keys)
        out["_key"] = sp["_key"].to_numpy()[row]
    return out


def _line_lists_text(sp: pd.DataFrame, item: str) -> pd.DataFrame:
    """:func:`_line_lists` with regular expressions, row by row."""
    digits = sp[item].astype("string").str.replace(r"\D", "", regex=True).fillna("")
    lists = pd.DataFrame({"hh_id": sp["hh_id"].to_numpy(), "line": digits.str.findall(r"\d\d").to_numpy(),
                          "_source_row": sp["_source_row"].to_numpy(),
                          **({"_key": sp["_key"].to_numpy()} if "_key" in sp.columns else {}),
                          **({"_hh": sp["_hh"].to_numpy()} if "_hh" in sp.columns else {})}
                         ).explode("line").dropna(subset=["line"])
    lists["line"] = lists["line"].astype(int)
    return lists


def _mark(p: pd.DataFrame, roster: pd.DataFrame, households: pd.Index, lists: pd.DataFrame,
          answered: np.ndarray, col: str, item: str, rep: _Reporter) -> None:
    """``p[col]``: True for members on the list, False for the other members of households that
    answered the item (``answered``, per person), missing otherwise; list entries that name no
    roster line are reported (MD558) and ignored.

    The (household, line) pairs are matched as integer codes: the roster's households and the
    lines of both sides factorised together, equal to a left merge of the roster with the
    distinct list entries (and of the entries with the roster), tested against it."""
    lists = lists.drop_duplicates([_key_column(lists), "line"])
    r_key, l_key = _pair_keys(roster, households, lists)
    # a nullable boolean column as the schema wants it (an object column of True/False/None
    # costs the validation a conversion per value)
    p[col] = pd.arrays.BooleanArray(np.isin(r_key, l_key[l_key >= 0]), ~np.asarray(answered, dtype=bool))
    unknown = ~np.isin(l_key, r_key[r_key >= 0])
    for rec in lists[unknown].to_dict("records"):
        rep.report.add("MD558", table="households", source_file=rep.source,
                       source_row=int(rec["_source_row"]), column=item, value=f"{rec['line']:02d}",
                       action="kept", record=f"household {rec['hh_id']}", hh_id=rec["hh_id"])


def _pair_keys(roster: pd.DataFrame, households: pd.Index, lists: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One integer per (household, line) pair of the roster and of the lists: equal pairs have
    equal keys; a roster row without a line is -1, a list entry of a household not on the roster
    -2 (they match nothing)."""
    r_hh = roster["_hh"].to_numpy()
    l_hh = lists["_hh"].to_numpy() if "_hh" in lists.columns else _household_codes(households, lists)
    nr = len(roster)
    l_code, _ = pd.factorize(np.r_[roster["line"].to_numpy(dtype="float64"),
                                   lists["line"].to_numpy(dtype="float64")])
    width = int(l_code.max()) + 1 if len(l_code) else 1
    r_line, l_line = l_code[:nr], l_code[nr:]
    r_key = np.where((r_hh >= 0) & (r_line >= 0), r_hh.astype(np.int64) * width + r_line, -1)
    l_key = np.where((l_hh >= 0) & (l_line >= 0), l_hh.astype(np.int64) * width + l_line, -2)
    return r_key, l_key


def _roster(p: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """Each person's household id (its copy's key, :func:`_copy_keys`, for a repeated case),
    line and household code (``_hh``), and the households the codes index: factorised once for
    every list matched against them (the index builds its hash table once)."""
    hh = p[_key_column(p)].astype(str).to_numpy()
    codes, households = pd.factorize(hh)
    out = pd.DataFrame({"hh_id": hh, "line": pd.to_numeric(p["line_no"], errors="coerce").to_numpy(),
                        "_hh": codes})
    return out, pd.Index(households)


def _household_codes(households: pd.Index, df: pd.DataFrame) -> np.ndarray:
    """The roster's code (:func:`_roster`) of each row's household (-1: not on the roster)."""
    return households.get_indexer(pd.Index(df[_key_column(df)].astype(object)))


def _key_column(df: pd.DataFrame) -> str:
    """The column a row's household is matched by: its copy's key (:func:`_copy_keys`) when the
    frame has one, else ``hh_id``."""
    return "_key" if "_key" in df.columns else "hh_id"


def _copy_keys(df: pd.DataFrame, blocks: CaseBlocks | None) -> pd.DataFrame:
    """``df`` (rows with ``hh_id`` and the reader's line numbers) with ``_key``: the household id,
    and for the rows of a later copy of a repeated case (MD406) the id and the copy's block, so
    that a list is matched with the roster of its own copy. Unchanged when no case is repeated."""
    if blocks is None:
        return df
    later = ~blocks.first(df)
    key = df["hh_id"].astype(str).to_numpy(dtype=object).copy()
    key[later] = key[later] + "#" + blocks.block(df.loc[later]).astype(str).astype(object)
    return df.assign(_key=key)


def _members(p: pd.DataFrame, raw: dict[str, pd.DataFrame], rep: _Reporter, blocks: CaseBlocks | None,
             roster_: tuple[pd.DataFrame, pd.Index]) -> None:
    """Person flags from the Section P member lists (P02.1: members, dependants, beneficiaries),
    each list matched with its own copy's roster (``roster_``: :func:`_roster` of the persons).
    A household's roster code is looked up once per record, not once per list."""
    if "SECTION_P" not in raw or raw["SECTION_P"].empty:
        return
    sp = raw["SECTION_P"].copy()
    sp["hh_id"] = _hh_id(sp)
    sp = _copy_keys(sp, blocks)
    roster, households = roster_
    sp["_hh"] = _household_codes(households, sp)
    has_p = np.isin(roster["_hh"].to_numpy(), sp["_hh"].to_numpy())  # (a code -1 is no roster's)
    for item, col in P02_LISTS.items():
        if item in sp.columns:
            _mark(p, roster, households, _line_lists(sp, item), has_p, col, item, rep)


def _health(p: pd.DataFrame, raw: dict[str, pd.DataFrame], rep: _Reporter, blocks: CaseBlocks | None,
            roster_: tuple[pd.DataFrame, pd.Index]) -> None:
    """Person flags from the Section L1 occurrences (one listed member per occurrence and list:
    L02 pregnant in the past 3 years, L07 pregnant now, L09 breastfeeding, L16 with a disability,
    L34 ill or injured in the past 12 months), gated by the household's Section L answer; and
    ``difficulty`` from A20 (a lot of difficulty or cannot do, 3-4, in any Washington Group domain;
    no when all six are answered 1-2)."""
    wg = [c for c in p.columns if c.startswith("_wg_")]
    if wg:
        v = p[wg].apply(pd.to_numeric, errors="coerce")
        severe = v.isin([3, 4]).any(axis=1)
        complete = v.isin([1, 2, 3, 4]).all(axis=1)
        sev = severe.to_numpy(dtype=bool)
        p["difficulty"] = pd.arrays.BooleanArray(sev, ~(sev | complete.to_numpy(dtype=bool)))
    if "SECTION_L" not in raw or "SECTION_L1" not in raw:
        return
    sl = _copy_keys(raw["SECTION_L"].assign(hh_id=lambda d: _hh_id(d)), blocks)
    l1 = raw["SECTION_L1"]
    l1 = _copy_keys(l1.assign(hh_id=_hh_id(l1)), blocks)
    roster, households = roster_
    r_hh, sl_hh, l1_hh = roster["_hh"].to_numpy(), _household_codes(households, sl), _household_codes(households, l1)
    by = _key_column(l1)
    age = pd.to_numeric(p["age"], errors="coerce").to_numpy()
    female10 = (p["sex"].astype(object) == "female").to_numpy() & (age >= 10)
    for item, (gate, col, women) in L1_LISTS.items():
        if item not in l1.columns or gate not in sl.columns:
            continue
        ans = pd.to_numeric(sl[gate], errors="coerce").isin([1, 2])
        answered = np.isin(r_hh, sl_hh[ans.to_numpy()])  # (a code -1 is no roster's)
        if women:
            answered &= female10
        lines = pd.to_numeric(l1[item], errors="coerce")
        lists = pd.DataFrame({"hh_id": l1["hh_id"].to_numpy(), "line": lines.to_numpy(),
                              "_source_row": l1["_source_row"].to_numpy(), "_key": l1[by].to_numpy(),
                              "_hh": l1_hh}
                             ).dropna(subset=["line"])
        lists["line"] = lists["line"].astype(int)
        _mark(p, roster, households, lists, answered, col, item, rep)


@lru_cache(maxsize=1)
def _settings() -> dict[str, Any]:
    """The ``[poverty]`` and ``[mpi]`` tables of ``cbms_2022_hpq.toml`` (data the hooks apply)."""
    text = resources.files("migdata.profiles").joinpath("cbms_2022_hpq.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@lru_cache(maxsize=4)
def poverty_thresholds(file: str = "psa_poverty_thresholds.csv") -> pd.DataFrame:
    """The annual per-capita poverty thresholds shipped beside the profiles (see the file's header
    for the sources and for which values still need confirming).

    Example:
        >>> t = poverty_thresholds()
        >>> sorted(set(t["year"]))
        [2021, 2023]
    """
    text = resources.files("migdata.profiles").joinpath(file).read_text(encoding="utf-8")
    rows = [ln for ln in text.splitlines() if not ln.startswith("#")]
    t = pd.read_csv(io.StringIO("\n".join(rows)), dtype={"psgc": str})
    t["psgc"] = t["psgc"].fillna("")
    return t


def threshold_for(areas: pd.DataFrame, year: int, table: pd.DataFrame | None = None) -> pd.Series:
    """The annual per-capita threshold of ``year`` for each row of ``areas`` (columns ``city_mun``,
    ``province``, ``region``: 10-digit PSGC): the most local level the table has (HUC or
    city/municipality, then province, region, national).

    Example:
        >>> a = pd.DataFrame({"city_mun": ["0403405000"], "province": ["0403400000"], "region": ["0400000000"]})
        >>> float(threshold_for(a, 2023).iloc[0]) == float(poverty_thresholds().query(
        ...     "year == 2023 and level == 'region'")["annual_per_capita_php"].iloc[0])
        True
    """
    t = poverty_thresholds() if table is None else table
    t = t[t["year"] == year]
    by = dict(zip(t["psgc"], t["annual_per_capita_php"].astype(float)))
    national = t.loc[t["level"] == "national", "annual_per_capita_php"]
    out = pd.Series(float(national.iloc[0]) if len(national) else np.nan, index=areas.index, dtype="float64")
    for col in ("region", "province", "city_mun"):  # finer levels override
        if col in areas.columns:
            v = areas[col].astype(object).map(by)
            out = out.where(v.isna(), v.astype("float64"))
    return out


def _poverty(h: pd.DataFrame, settings: dict[str, Any]) -> None:
    """``poverty_threshold``: the PSA annual per-capita threshold of the year the profile names,
    for the household's area (``[poverty]`` of the profile)."""
    from migdata.areas import rollup

    conf = settings.get("poverty", {})
    year = conf.get("threshold_year")
    if not year or "psgc" not in h.columns:
        return
    psgc = h["psgc"].astype(object)
    areas = pd.DataFrame({lvl: rollup(psgc, lvl, errors="coerce").astype(object).to_numpy()
                          for lvl in ("region", "province", "city_mun")}, index=h.index)
    thr = threshold_for(areas, int(year), poverty_thresholds(conf.get("thresholds", "psa_poverty_thresholds.csv")))
    h["poverty_threshold"] = thr.where(psgc.notna()).to_numpy()


def _any_by_hh(hh: np.ndarray, flag: np.ndarray, known: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per household: any member with ``flag``; and any member with ``known``."""
    ok = hh >= 0
    yes = np.bincount(hh[ok], weights=(flag & known)[ok], minlength=n) > 0
    any_known = np.bincount(hh[ok], weights=known[ok], minlength=n) > 0
    return yes, any_known


def _bool(df: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """A yes/no column as (value, known) boolean arrays."""
    if col not in df.columns:
        z = np.zeros(len(df), dtype=bool)
        return z, z
    s = df[col].astype("boolean")
    return s.fillna(False).to_numpy(dtype=bool), s.notna().to_numpy(dtype=bool)


def _positions(ids: pd.Series, of: pd.Series) -> np.ndarray:
    """``pd.Index(ids.astype(str)).get_indexer(of.astype(str))``: the position of each id of
    ``of`` among ``ids`` (-1: absent). Arrow's hash of the text where no id is missing and
    ``ids`` are distinct (no Python string per row); pandas' otherwise (its rules for missing
    ids and its error for repeated ones)."""
    import pyarrow.compute as pc

    a, b = arrow_text(ids), arrow_text(of)
    if a.null_count or b.null_count or len(pc.unique(a)) != len(a):
        return pd.Index(ids.astype(str)).get_indexer(of.astype(str))
    return pc.fill_null(pc.index_in(b, value_set=a), -1).to_numpy(zero_copy_only=False).astype(np.intp)


def mpi_deprivations(h: pd.DataFrame, p: pd.DataFrame) -> pd.DataFrame:
    """The household deprivations of the multidimensional poverty measure (``[mpi]`` of the
    profile): True deprived, False not, missing when the data cannot say. Definitions follow the
    global MPI (Alkire-Foster, UNDP/OPHI) adapted to CBMS 2022 items:

    - years_of_schooling: no member aged 10+ completed elementary school (C02);
    - school_attendance: a child aged 6-14 does not attend school (C03);
    - child_mortality: a child born alive in the past 3 years died (L10);
    - cooking_fuel: wood or charcoal (R15); electricity: none (R12);
    - sanitation: not an improved facility, or shared, or public (Q14, Q19);
    - drinking_water: not an improved source, or more than 30 minutes to fetch (Q03, Q06);
    - housing: natural or makeshift floor, roof or walls (R03, R04, R06).

    Example:
        >>> h = pd.DataFrame({"hh_id": ["A"], "electricity": [False], "child_death_3y": [False]})
        >>> p = pd.DataFrame({"hh_id": ["A"], "age": [30], "highest_grade": ["college_graduate"],
        ...                   "school_attendance": [None]})
        >>> d = mpi_deprivations(h, p)
        >>> d.loc[0, ["years_of_schooling", "school_attendance", "electricity"]].tolist()
        [False, False, True]
    """
    n = len(h)
    hh = _positions(h["hh_id"], p["hh_id"])
    age = pd.to_numeric(p["age"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    out = pd.DataFrame(index=h.index)

    def frame(dep: np.ndarray, known: np.ndarray) -> pd.Series:
        return pd.Series(pd.arrays.BooleanArray(np.asarray(dep, bool), ~np.asarray(known, bool)), index=h.index)

    grade = p["highest_grade"].astype(object) if "highest_grade" in p.columns else pd.Series(None, index=p.index)
    finished = grade.isin(ELEMENTARY_OR_MORE).to_numpy()
    g_known = (grade.notna() & (age >= 10)).to_numpy()
    done, known = _any_by_hh(hh, finished, g_known, n)
    out["years_of_schooling"] = frame(~done, known)
    att = p["school_attendance"].astype(object) if "school_attendance" in p.columns else pd.Series(None, index=p.index)
    child = (age >= 6) & (age <= 14)
    missing_child = child & att.isna().to_numpy()
    out_of_school, _ = _any_by_hh(hh, (att == "not_attending").to_numpy(), child, n)
    unknown, _ = _any_by_hh(hh, missing_child, child, n)
    out["school_attendance"] = frame(out_of_school, out_of_school | ~unknown)
    died, died_known = _bool(h, "child_death_3y")
    out["child_mortality"] = frame(died, died_known)
    solid, solid_known = _bool(h, "cooking_fuel_solid")
    out["cooking_fuel"] = frame(solid, solid_known)
    elec, elec_known = _bool(h, "electricity")
    out["electricity"] = frame(~elec, elec_known)
    imp, imp_known = _bool(h, "sanitation_improved")
    shared, shared_known = _bool(h, "toilet_shared")
    public = (h["toilet_src"].astype(object) == "71").to_numpy() if "toilet_src" in h.columns else np.zeros(n, bool)
    san_dep = (imp_known & ~imp) | shared | public
    out["sanitation"] = frame(san_dep, san_dep | (imp_known & (shared_known | (imp & ~public & ~shared))))
    wimp, wimp_known = _bool(h, "water_improved")
    minutes = pd.to_numeric(h["water_minutes"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan) \
        if "water_minutes" in h.columns else np.full(n, np.nan)
    far = minutes > 30
    w_dep = (wimp_known & ~wimp) | far
    out["drinking_water"] = frame(w_dep, w_dep | (wimp_known & ~np.isnan(minutes)))
    housing_dep = np.zeros(n, bool)
    housing_known = np.ones(n, bool)
    for col in ("floor_natural", "roof_natural", "walls_natural"):
        v, k = _bool(h, col)
        housing_dep |= v
        housing_known &= k
    out["housing"] = frame(housing_dep, housing_dep | housing_known)
    return out


def _mpi(h: pd.DataFrame, p: pd.DataFrame, settings: dict[str, Any]) -> None:
    """``mpi_score`` (weighted share of deprivations) and ``mpi_poor`` (score at or above the
    cutoff), with the dimensions, indicators and cutoff of ``[mpi]`` in the profile: dimensions
    weigh the same, indicators the same within their dimension. A household with an indicator
    the data cannot say has no score."""
    conf = settings.get("mpi", {})
    dims = conf.get("dimensions", {})
    if not dims:
        return
    dep = mpi_deprivations(h, p)
    score = pd.Series(0.0, index=h.index)
    known = pd.Series(True, index=h.index)
    for indicators in dims.values():
        w = 1.0 / len(dims) / len(indicators)
        for ind in indicators:
            d = dep[ind]
            score += w * d.fillna(False).astype(float)
            known &= d.notna()
    h["mpi_score"] = score.where(known).to_numpy()
    cutoff = float(conf.get("cutoff", 1 / 3))
    poor = pd.array((score >= cutoff - 1e-9).to_numpy(), dtype="boolean")
    poor[~known.to_numpy()] = pd.NA
    h["mpi_poor"] = poor


def _households(h: pd.DataFrame, raw: dict[str, pd.DataFrame], blocks: CaseBlocks | None) -> None:
    """``cash_abroad`` and ``income`` summed over the Section H records of the case's first
    block. A case whose id comes back later in the file (MD406) is the household of its first
    block, as its household row is: the records of a later block are not added to it (a second
    copy of a household would double its income), whichever chunk of a streaming import holds
    them."""
    if "SECTION_H" in raw and len(raw["SECTION_H"]) != raw["SECTION_H"][ID].drop_duplicates().shape[0]:
        sh = raw["SECTION_H"]
        if blocks is not None:
            sh = sh[blocks.first(sh)]
        sh = sh.assign(hh_id=_hh_id(sh))
        sums = sh.groupby("hh_id")[["H3G_CASHRECEIPTS", "H05_SOURCESOFINCOME"]].sum(min_count=1)
        h["cash_abroad"] = h["hh_id"].map(sums["H3G_CASHRECEIPTS"]).to_numpy()
        h["income"] = h["hh_id"].map(sums["H05_SOURCESOFINCOME"]).to_numpy()


def derive(tables: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame], codebook: Any,
           report: ImportReport, profile: Any = None) -> dict[str, pd.DataFrame]:
    """Complete the tidy tables the engine built from the profile (see the module docstring);
    ``[poverty]`` and ``[mpi]`` come from ``profile`` (the file being applied, which may be a
    user's copy), else from the shipped profile."""
    settings = profile.settings if profile is not None else _settings()
    rep = _Reporter(report, getattr(codebook, "source", None))
    p = tables["persons"].copy()
    # a case keyed again later in the file (MD406) is one household, of its first copy: each
    # copy's records belong together, and the household's row, income and deprivations are the
    # first copy's (as a streaming import that reads the copies in different chunks sees them)
    blocks = CaseBlocks.if_repeated(raw, ID, codebook)
    f = _person_frame(raw, blocks)
    # the engine keeps Section A's line order; align by Section A's file line to be safe
    rows = pd.to_numeric(p["_source_row"]).to_numpy()
    f = f.drop_duplicates("_row_A").set_index("_row_A").reindex(rows)
    f["_row_A"] = rows
    f.index = p.index
    _orphans(raw, rep, blocks)
    _places(p, f, rep)
    _skip_rules(p, f, rep)
    _lf_status(p, f, rep)
    roster = _roster(_copy_keys(p, blocks))  # (once for every member list)
    _members(p, raw, rep, blocks, roster)
    _health(p, raw, rep, blocks, roster)
    out = dict(tables)
    out["persons"] = p
    if "households" in tables:
        h = tables["households"].copy()
        _households(h, raw, blocks)
        _poverty(h, settings)
        _mpi(h, p if blocks is None else p[blocks.first(p)], settings)
        out["households"] = h
    return out
