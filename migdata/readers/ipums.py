"""IPUMS extracts: a DDI codebook (.xml) with its data (.dat/.dat.gz fixed width, .csv/.csv.gz, .parquet).

The DDI is parsed by ipumspy (variable names, positions, implied decimals, labels, value labels).
Tables:

- a **rectangular** extract (IPUMS default: rectangular on persons) gives one table ``person``,
  read by ipumspy's ``read_microdata``;
- a **hierarchical** extract (``RECTYPE`` H/P) gives ``household`` (the H records) and ``person``
  (the P records, *with the variables of their household record copied on*, so that a
  hierarchical and a rectangular extract of the same sample give the same ``person`` table and
  one source profile serves both). A person belongs to the household record that precedes it
  in the file (the IPUMS layout); when its household key (``SERIAL``) differs, or no household
  record precedes it, the line is a reported rejection (MD461). A line whose record type the
  DDI does not declare is a reported rejection (MD471) counted under ``_unknown_records``.

Why the hierarchical fixed-width decoder is hand-written: ipumspy's
``read_hierarchical_microdata`` reads the whole file once per record type with ``pandas.read_fwf``
(11.6 s for the 339,278-line ``cps_00421`` test extract) and drops unknown record types
silently; decoding the lines once with vectorised string slicing (pyarrow strings) takes a
fraction of that and lets every line be accounted for. It follows ipumspy's conventions
(implied decimals divided out, column types from the DDI) and the tests check it against
ipumspy on the same lines.

``_source_row`` is the 1-based line of the fixed-width file, the CSV line (header = line 1), or
the 1-based Parquet row. Value labels go into the codebook as ``{code: label}``.

Example:
    >>> tables, cb = read_ipums("cps_00421.xml")                          # doctest: +SKIP
    >>> sorted(tables), cb.variable("SEX", "person").value_labels[2]       # doctest: +SKIP
    (['household', 'person'], 'Female')
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from migdata.errors import DataError
from migdata.readers.codebook import Codebook, Variable

DATA_SUFFIXES = (".dat.gz", ".dat", ".csv.gz", ".csv", ".parquet")


def _load_ddi(path: Path):
    from ipumspy import readers

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ipumspy's citation reminder; the codebook notes it
            return readers.read_ipums_ddi(str(path))
    except Exception as e:  # ipumspy raises ElementTree and attribute errors on a broken DDI
        raise DataError("MD472", file=str(path), detail=f"the DDI codebook could not be parsed ({e})") from e


def _locate(path: str | Path, data: str | Path | None) -> tuple[Path, Path]:
    """(ddi, data file) from either one, looking beside it for the other."""
    p = Path(path)
    if not p.exists():
        raise DataError("MD001", path=str(p))
    if p.suffix.lower() == ".xml":
        ddi = p
        if data is not None:
            d = Path(data)
            if not d.exists():
                raise DataError("MD001", path=str(d))
            return ddi, d
        stem = p.name[:-4]
        for suf in DATA_SUFFIXES:
            cand = p.with_name(stem + suf)
            if cand.exists():
                return ddi, cand
        raise DataError("MD470", file=str(p),
                        detail=f"no data file beside the codebook (looked for {stem}{{{', '.join(DATA_SUFFIXES)}}})")
    name = p.name
    stem = next((name[: -len(s)] for s in DATA_SUFFIXES if name.lower().endswith(s)), p.stem)
    ddi = p.with_name(stem + ".xml")
    if not ddi.exists():
        raise DataError("MD470", file=str(p), detail=f"the DDI codebook {ddi.name} is not beside the data")
    return ddi, p


def _codebook(ddi, ddi_path: Path, tables: dict[str, list[str]]) -> Codebook:
    cb = Codebook(source=str(ddi_path), format="ipums")
    by_name = {v.name: v for v in ddi.data_description}
    for table, names in tables.items():
        for n in names:
            v = by_name[n]
            cb.add(Variable(
                name=n, table=table, label=v.label or None,
                type="string" if v.vartype == "character" else "numeric",
                start=v.start + 1, length=v.end - v.start, decimals=int(v.shift or 0),
                value_labels={code: label for label, code in (v.codes or {}).items()},
                extra={"description": v.description, "concept": v.concept, "rectype": v.rectype}))
    samples = getattr(ddi, "samples_description", None)
    cb.notes.append("Use of IPUMS data is subject to the IPUMS conditions; cite the extract "
                    f"({getattr(ddi, 'ipums_collection', 'IPUMS')}, samples: {', '.join(samples or [])}).")
    return cb


def _read_rectangular(ddi, ddi_path: Path, data_path: Path) -> tuple[dict[str, pd.DataFrame], Codebook]:
    from ipumspy import readers

    try:
        df = readers.read_microdata(ddi, str(data_path))
    except (ValueError, OSError, EOFError) as e:
        raise DataError("MD472", file=str(data_path), detail=str(e)) from e
    df = df.reset_index(drop=True)
    name = data_path.name.lower()
    first = 2 if ".csv" in name else 1  # CSV: line 1 is the header
    df.insert(0, "_source_row", np.arange(first, first + len(df), dtype="int64"))
    names = [v.name for v in ddi.data_description]
    cb = _codebook(ddi, ddi_path, {"person": names})
    cb.report.set_counts("person", read=len(df), kept=len(df), rejected=0)
    cb.tables["person"] = {"file": str(data_path), "structure": "rectangular", "n_rows": len(df)}
    return {"person": df}, cb


def _typed(col: pd.Series, desc) -> tuple[pd.Series, np.ndarray]:
    """Text slice -> the type ipumspy gives the variable (implied decimals divided out).

    Returns the column and the positions of non-blank text that is not a number (set missing).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    s = col.str.strip()
    if desc.vartype == "character":
        return s.astype("string"), np.array([], dtype=int)
    arr = pa.array(s.array)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    bad = np.array([], dtype=int)
    try:
        num = pd.Series(pd.arrays.ArrowExtensionArray(pc.cast(arr, pa.int64())), index=s.index)
        num = num.astype("Int64")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        num = pd.to_numeric(s.replace("", None), errors="coerce")
        bad = np.flatnonzero((num.isna() & s.notna() & (s != "")).to_numpy())
    if desc.shift:
        return num.astype("float64") / (10 ** int(desc.shift)), bad
    pt = desc.pandas_type
    if pt is np.float64 or str(pt) == "float64" or pt is float:
        return num.astype("float64"), bad
    return num.astype("Int64"), bad


def _read_hierarchical(ddi, ddi_path: Path, data_path: Path) -> tuple[dict[str, pd.DataFrame], Codebook]:
    fd = ddi.file_description
    if not data_path.name.lower().endswith((".dat", ".dat.gz")):
        raise DataError("MD472", file=str(data_path),
                        detail="hierarchical extracts are read from the fixed-width .dat(.gz) file")
    raw = data_path.read_bytes()
    try:
        if data_path.name.lower().endswith(".gz"):
            raw = gzip.decompress(raw)
        text = raw.decode(fd.encoding or "iso-8859-1")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise DataError("MD472", file=str(data_path), detail=str(e)) from e
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    s = pd.Series(lines, dtype="string[pyarrow]").str.rstrip("\r")
    lineno = np.arange(1, len(s) + 1, dtype="int64")
    nonblank = (s.str.strip() != "").to_numpy()
    s, lineno = s[nonblank].reset_index(drop=True), lineno[nonblank]
    by_name = {v.name: v for v in ddi.data_description}
    rt_desc = by_name[fd.rectype_idvar]
    rectype = s.str.slice(rt_desc.start, rt_desc.end).str.strip().to_numpy(dtype=object)
    code_to_label = {code: label for label, code in (rt_desc.codes or {}).items()}
    tables_vars: dict[str, list[str]] = {}
    frames: dict[str, pd.DataFrame] = {}
    report_rows: dict[str, np.ndarray] = {}
    problems: list[tuple[str, int, str, str]] = []
    for code in fd.rectypes:
        tname = (code_to_label.get(code) or code).lower()
        mask = rectype == code
        names = [v.name for v in ddi.data_description if code in (v.rectype or "").split()]
        sub = s[mask]
        cols: dict[str, Any] = {"_source_row": pd.Series(lineno[mask])}
        for n in names:
            cols[n], bad = _typed(sub.str.slice(by_name[n].start, by_name[n].end), by_name[n])
            cols[n] = cols[n].reset_index(drop=True)
            for i in bad:
                problems.append((tname, int(lineno[mask][i]), n, sub.iat[i][by_name[n].start:by_name[n].end]))
        frames[tname] = pd.DataFrame(cols)
        tables_vars[tname] = names
        report_rows[code] = np.flatnonzero(mask)
    cb = _codebook(ddi, ddi_path, tables_vars)
    for t, row, col, val in problems:
        cb.report.add("MD473", table=t, source_file=str(data_path), source_row=row, column=col,
                      value=val, action="set_missing")
    known = np.isin(rectype, list(fd.rectypes))
    for i in np.flatnonzero(~known):
        cb.report.add("MD471", table="_unknown_records", source_file=str(data_path),
                      source_row=int(lineno[i]), column=fd.rectype_idvar, value=rectype[i], action="rejected")
    if (~known).any():
        n = int((~known).sum())
        cb.report.set_counts("_unknown_records", read=n, kept=0, rejected=n)
    # attach household variables to persons by file order, checking the key
    h_code = next((c for c, lab in code_to_label.items() if lab.lower() == "household"), "H")
    p_code = next((c for c, lab in code_to_label.items() if lab.lower() == "person"), "P")
    h_name = (code_to_label.get(h_code) or h_code).lower()
    p_name = (code_to_label.get(p_code) or p_code).lower()
    if h_name in frames and p_name in frames:
        key = fd.rectype_keyvar
        h, p = frames[h_name], frames[p_name]
        h_pos, p_pos = report_rows[h_code], report_rows[p_code]
        owner = np.searchsorted(h_pos, p_pos) - 1
        has_owner = owner >= 0
        same_key = np.zeros(len(p), dtype=bool)
        hk = h[key].to_numpy()
        pk = p[key].to_numpy()
        same_key[has_owner] = hk[owner[has_owner]] == pk[has_owner]
        bad = ~same_key
        for i in np.flatnonzero(bad):
            cb.report.add("MD461", table=p_name, source_file=str(data_path), source_row=int(p["_source_row"].iat[i]),
                          column=key, value=pk[i], parent=h_name, action="rejected")
        n_p = len(p)
        p = p[~bad].reset_index(drop=True)
        hvars = [n for n in tables_vars[h_name] if n not in tables_vars[p_name]]
        attach = h.iloc[owner[~bad]][hvars].reset_index(drop=True)
        p = pd.concat([p, attach], axis=1)
        frames[p_name] = p
        for n in hvars:
            v = next(v for v in cb.variables if v.name == n and v.table == h_name)
            cb.add(Variable(**{**v.__dict__, "table": p_name, "extra": {**v.extra, "from_table": h_name}}))
        cb.report.set_counts(h_name, read=len(h), kept=len(h), rejected=0)
        cb.report.set_counts(p_name, read=n_p, kept=len(p), rejected=int(bad.sum()))
    else:
        for t, f in frames.items():
            cb.report.set_counts(t, read=len(f), kept=len(f), rejected=0)
    for t, f in frames.items():
        cb.tables[t] = {"file": str(data_path), "structure": "hierarchical", "n_rows": len(f)}
    cb.report.check_balance()
    return frames, cb


def read_ipums(path: str | Path, data: str | Path | None = None) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read an IPUMS extract given its DDI (.xml) or its data file (the other is looked up beside it).

    Example:
        >>> tables, cb = read_ipums("usa_00172.xml")                         # doctest: +SKIP
        >>> tables["person"][["SERIAL", "PERNUM", "SEX", "AGE", "PERWT"]]    # doctest: +SKIP
    """
    ddi_path, data_path = _locate(path, data)
    if data_path.stat().st_size == 0:
        raise DataError("MD002", path=str(data_path))
    ddi = _load_ddi(ddi_path)
    if ddi.file_description.structure == "hierarchical":
        return _read_hierarchical(ddi, ddi_path, data_path)
    return _read_rectangular(ddi, ddi_path, data_path)


def read(path: str | Path, **options: Any) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Registry entry point: :func:`read_ipums` (option ``data=`` the data file)."""
    return read_ipums(path, **options)
