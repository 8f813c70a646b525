"""Rebuild the shipped PSGC reference table from the PSA publication workbook.

Usage::

    python -m migdata.areas.build PSGC-July-2025-Publication-Datafile.xlsx migdata/areas/psgc_2025_07.parquet

The PSA workbook (sheet ``PSGC``) stores codes sometimes as text, sometimes as numbers whose
leading zero was lost; headers contain line breaks; one column has no header (footnote
marks); populations may be ``-``. :func:`read_publication` reads it with openpyxl in
read-only mode (pandas' Excel reader would guess types per column and mangle the codes),
cleans every cell and refuses rows it cannot read with a located :class:`DataError`.
:func:`build` adds the hierarchy (:func:`migdata.areas.structure.derive`) and writes a
compact Parquet file (about 0.6 MB for the whole country) that ships inside the package: the
derived classification is CC0, so the package works without the workbook.

Example:
    >>> ref = build("PSGC-July-2025-Publication-Datafile.xlsx", "psgc.parquet")  # doctest: +SKIP
    >>> int(ref.level.eq("barangay").sum())  # doctest: +SKIP
    42011
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from migdata.areas.structure import PSA_LEVELS, check, derive
from migdata.errors import DataError

#: Columns of the shipped reference, in order.
COLUMNS = ["psgc", "name", "level", "parent", "correspondence_code", "urban_rural",
           "population_2020", "city_class", "income_class", "region", "province", "city_mun",
           "stat_province", "ppmm", "old_name", "status", "note"]

# Header text (lower case, whitespace collapsed) -> column; prefixes because PSA appends the
# source of the column to some headers ("Income Classification (DOF DO No. 074.2024)").
_HEADERS = [
    ("10-digit psgc", "psgc"), ("name", "name"), ("correspondence code", "correspondence_code"),
    ("geographic level", "psa_level"), ("old names", "old_name"), ("city class", "city_class"),
    ("income classification", "income_class"), ("urban / rural", "urban_rural"),
    ("2020 population", "population_2020"), ("status", "status"),
]
_REQUIRED = ("psgc", "name", "correspondence_code", "psa_level")
_BLANK = {"", "-"}


def _header_key(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().lower()


def map_headers(header: tuple[Any, ...]) -> dict[int, str]:
    """Column position -> reference column for a PSGC header row (the unnamed column -> note)."""
    out: dict[int, str] = {}
    for i, h in enumerate(header):
        key = _header_key(h)
        if not key:
            out[i] = "note"
            continue
        for prefix, col in _HEADERS:
            if key == prefix or key.startswith(prefix + " ") or key.startswith(prefix + "("):
                out[i] = col
                break
    return out


def clean_code(value: Any, width: int) -> str | None:
    """A code cell as a zero-padded string of ``width`` digits (None for an empty cell).

    Numbers are padded back: in a column of fixed-width codes a missing leading zero can
    only be a lost one. Raises ValueError for anything else.
    """
    if value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        value = int(value)
    text = str(value).strip()
    if text == "":
        return None
    if not text.isdigit() or len(text) > width:
        raise ValueError(f"not a code of {width} digits")
    return text.zfill(width)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    t = re.sub(r"\s+", " ", str(value)).strip()
    return None if t in _BLANK else t


def _population(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if float(value) != int(value) or value < 0:
            raise ValueError("not a whole, non-negative number")
        return int(value)
    t = str(value).strip().replace(",", "")
    if t in _BLANK:
        return None
    if not t.isdigit():
        raise ValueError("not a number")
    return int(t)


def read_publication(path: str | Path, sheet: str = "PSGC") -> pd.DataFrame:
    """The PSA PSGC publication sheet as a clean table (one row per unit, all text cleaned).

    Columns: ``psgc``, ``name``, ``correspondence_code``, ``level``, ``old_name``,
    ``city_class``, ``income_class``, ``urban_rural`` ("urban"/"rural"/NA),
    ``population_2020``, ``status``, ``note``, ``_source_row`` (1-based worksheet row).
    """
    import openpyxl

    path = Path(path)
    if not path.exists():
        raise DataError("MD001", path=str(path))
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip/xml errors: not an xlsx file
        raise DataError("MD206", file=str(path), problem=f"cannot be opened as an .xlsx workbook ({exc})")
    try:
        if sheet not in wb.sheetnames:
            raise DataError("MD206", file=str(path),
                            problem=f"there is no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})")
        return parse_rows(wb[sheet].iter_rows(values_only=True), str(path), sheet)
    finally:
        wb.close()


def parse_rows(rows: Iterable[tuple[Any, ...]], source: str = "PSGC", sheet: str = "PSGC") -> pd.DataFrame:
    """:func:`read_publication` on rows already read (header first, as openpyxl yields them)."""
    rows = iter(rows)
    header = next(rows, None)
    cols = map_headers(header or ())
    missing = [c for c in _REQUIRED if c not in cols.values()]
    if missing:
        raise DataError("MD206", file=source,
                        problem=f"sheet {sheet!r} has no column for {', '.join(missing)} "
                                f"(header row: {[h for h in (header or ()) if h]})")
    path = Path(source)
    records = []
    for rowno, row in enumerate(rows, start=2):
        if row is None or all(v is None or str(v).strip() == "" for v in row):
            continue
        rec: dict[str, Any] = {"_source_row": rowno}
        for i, col in cols.items():
            rec[col] = row[i] if i < len(row) else None
        records.append(_clean_record(rec, path, sheet, cols))
    df = pd.DataFrame.from_records(records)
    dup = df["psgc"].duplicated(keep="first")
    if dup.any():
        r = df[dup].iloc[0]
        raise DataError("MD207", file=source, sheet=sheet, row=int(r["_source_row"]),
                        column="10-digit PSGC", value=r["psgc"], problem="this code appears twice")
    return df


def _clean_record(rec: dict[str, Any], path: Path, sheet: str, cols: dict[int, str]) -> dict[str, Any]:
    header_of = {v: k for k, v in cols.items()}

    def fail(col: str, problem: str) -> DataError:
        return DataError("MD207", file=str(path), sheet=sheet, row=rec["_source_row"],
                         column=col, value=rec.get(col), problem=problem)

    out: dict[str, Any] = {"_source_row": rec["_source_row"]}
    try:
        out["psgc"] = clean_code(rec.get("psgc"), 10)
    except ValueError as exc:
        raise fail("psgc", str(exc))
    if out["psgc"] is None:
        raise fail("psgc", "the code is empty")
    try:
        out["correspondence_code"] = clean_code(rec.get("correspondence_code"), 9)
    except ValueError as exc:
        raise fail("correspondence_code", str(exc))
    out["name"] = _text(rec.get("name"))
    if out["name"] is None:
        raise fail("name", "the name is empty")
    psa = _text(rec.get("psa_level"))
    if psa is None:
        # PSA leaves the level empty for the two non-province units at the province position.
        out["level"] = "special"
    elif psa in PSA_LEVELS:
        out["level"] = PSA_LEVELS[psa]
    else:
        raise fail("psa_level", f"unknown level (expected one of {', '.join(PSA_LEVELS)})")
    ur = _text(rec.get("urban_rural"))
    if ur not in (None, "U", "R"):
        raise fail("urban_rural", "expected U, R or empty")
    out["urban_rural"] = {"U": "urban", "R": "rural"}.get(ur)
    try:
        out["population_2020"] = _population(rec.get("population_2020"))
    except ValueError as exc:
        raise fail("population_2020", str(exc))
    for col in ("old_name", "city_class", "income_class", "status", "note"):
        out[col] = _text(rec.get(col)) if col in header_of else None
    return out


def finish(units: pd.DataFrame, release: str, source: str = "") -> pd.DataFrame:
    """Derive the hierarchy, check it, and return the table in :data:`COLUMNS` order and dtypes."""
    df = derive(units)
    problems = check(df)
    if problems:
        i, col, problem = problems[0]
        raise DataError("MD207", file=source or "reference", sheet="PSGC",
                        row=df.at[i, "_source_row"] if "_source_row" in df else i,
                        column=col, value=df.at[i, "psgc"],
                        problem=problem + (f" ({len(problems) - 1} more such rows)" if len(problems) > 1 else ""))
    for col in COLUMNS:
        if col not in df:
            df[col] = pd.NA
    df = df[COLUMNS].copy()
    for col in COLUMNS:
        df[col] = df[col].astype("string")
    df["population_2020"] = pd.array(pd.to_numeric(df["population_2020"]), dtype="Int64")
    df["level"] = pd.Categorical(df["level"], categories=list(_levels()))
    df["urban_rural"] = pd.Categorical(df["urban_rural"], categories=["urban", "rural"])
    df.attrs["release"] = release
    return df.reset_index(drop=True)


def _levels() -> tuple[str, ...]:
    from migdata.areas.structure import PSGC_LEVELS as LEVELS
    return LEVELS


def release_label(path: str | Path) -> str:
    """``YYYY-MM`` from a PSA file name such as ``PSGC-July-2025-Publication-Datafile.xlsx``."""
    months = ["january", "february", "march", "april", "may", "june", "july", "august",
              "september", "october", "november", "december"]
    name = Path(path).name.lower()
    m = re.search(r"(" + "|".join(months) + r")[-_ ]?(\d{4})", name)
    if m:
        return f"{m.group(2)}-{months.index(m.group(1)) + 1:02d}"
    q = re.search(r"(\d)q[-_ ]?(\d{2,4})|q(\d)[-_ ]?(\d{4})", name)
    if q:
        quarter, year = (q.group(1), q.group(2)) if q.group(1) else (q.group(3), q.group(4))
        year = year if len(year) == 4 else "20" + year
        return f"{year}-Q{quarter}"
    return Path(path).stem


def build(workbook: str | Path, out: str | Path, release: str | None = None) -> pd.DataFrame:
    """Read the PSA workbook, derive the hierarchy and write the compact reference to ``out``.

    Writes Parquet (zstd, dictionary-encoded strings) atomically and returns the table.
    """
    release = release or release_label(workbook)
    ref = finish(read_publication(workbook), release, source=str(workbook))
    write(ref, out, source=Path(workbook).name)
    return ref


def write(ref: pd.DataFrame, out: str | Path, source: str = "") -> None:
    """Write a reference table as compact Parquet (zstd, dictionary strings), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    release = ref.attrs.get("release", "?")
    table = pa.Table.from_pandas(ref, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"migdata.psgc_release": release.encode(),
                                           b"migdata.psgc_source": source.encode()})
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=19, use_dictionary=True)
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m migdata.areas.build WORKBOOK OUT.parquet [RELEASE]", file=sys.stderr)
        return 2
    try:
        ref = build(args[0], args[1], args[2] if len(args) == 3 else None)
    except DataError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    counts = ref["level"].value_counts().reindex(ref["level"].cat.categories).to_dict()
    print(f"wrote {args[1]}: {len(ref):,} units, release {ref.attrs['release']}; "
          + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
