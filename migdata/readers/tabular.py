"""CSV and Excel (.xlsx/.xlsm) files as raw tables of strings.

**Everything is read as text** (the pandas ``dtype=str, keep_default_na=False`` convention):
an empty cell is ``""``, ``NA`` stays ``"NA"``, ``007`` keeps its zeros. Types, missing codes and
recodes come from the source profile, which knows what each column means; a reader that guessed
would silently turn barangay codes into floats and ``NA`` (Namibia, or "not applicable") into NaN.

CSV details, each reported in ``codebook.tables[<table>]``:

- **encoding**: a UTF-16 or UTF-8 byte-order mark wins; otherwise UTF-8 is tried, then cp1252
  (Windows Excel "CSV"), then latin-1. A file holding NUL bytes without a BOM (UTF-16 without a
  mark, or not text at all) is error MD003. Passing ``encoding=`` turns detection off; bytes that
  do not decode are then error MD003 with the offset of the first bad byte.
- **delimiter**: ``csv.Sniffer`` over the first 64 KiB restricted to ``, ; TAB |``; when it cannot
  decide, the candidate found the same non-zero number of times on most of the first lines wins.
- **header row**: ``header_row`` (1-based line number) when given; otherwise leading title rows
  are skipped: the header is the first of the first 50 rows with at least the most common
  number of non-empty fields.
- rows with more non-empty fields, or fewer fields, than the header are rejected (MD482) and
  reported; blank lines are skipped and not counted as rows.
- **an unbalanced quote** (a value opened with ``"`` and never closed) would make the rest of the
  file one value. A record that spans several lines and then has the wrong number of fields is
  taken for one, and so is one whose later lines each hold a whole record's delimiters (a quote
  opened in the last field); its first line is rejected with MD485 (naming the line where the
  quote opens), and reading starts again on the next line, so every later line is read and
  counted. Quoted values with real line breaks (an address on two lines) are kept.

Excel: every sheet (or ``sheet=``) becomes a table named after the sheet, read with openpyxl
(values, not formulas); whole numbers are written without ``.0``, dates as ISO text; the header
row is found as for CSV. ``_source_row`` is the line number (CSV, the first line of a record that
spans lines) or the spreadsheet row number (Excel), 1-based.

Example:
    >>> tables, cb = read_csv("households.csv")                  # doctest: +SKIP
    >>> cb.tables["households"]["encoding"], cb.tables["households"]["delimiter"]   # doctest: +SKIP
    ('cp1252', ';')
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from migdata.errors import DataError, UsageError
from migdata.readers.codebook import Codebook, Variable

DELIMITERS = ",;\t|"
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # what pandas.read_csv(dtype=str) gives
HEADER_SCAN_ROWS = 50


# --- encoding --------------------------------------------------------------------------------

def detect_encoding(raw: bytes, path: str = "", encoding: str | None = None) -> tuple[str, str]:
    """Decode ``raw``; return (text, encoding used). Raises MD003 when it cannot.

    Example:
        >>> detect_encoding("año".encode("cp1252"))[1]
        'cp1252'
    """
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as e:
            raise UsageError("MD004", what="encoding", value=encoding,
                             choices="utf-8, utf-8-sig, cp1252, latin-1, utf-16") from e
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as e:
            raise DataError("MD003", path=path, encoding=encoding, offset=e.start) from e
    if raw.startswith(codecs.BOM_UTF32_LE) or raw.startswith(codecs.BOM_UTF32_BE):
        return raw.decode("utf-32"), "utf-32"
    if raw.startswith(codecs.BOM_UTF16_LE) or raw.startswith(codecs.BOM_UTF16_BE):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as e:
            raise DataError("MD003", path=path, encoding="utf-16", offset=e.start) from e
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as e:
            raise DataError("MD003", path=path, encoding="utf-8-sig", offset=e.start) from e
    nul = raw.find(b"\x00")
    if nul >= 0:
        # UTF-16 without a byte-order mark, or a binary file: no 8-bit guess would be right
        raise DataError("MD003", path=path, encoding="utf-8 or cp1252 (it holds NUL bytes: "
                        "UTF-16 without a byte-order mark, or not a text file)", offset=nul)
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


# --- delimiter and header ---------------------------------------------------------------------

def detect_delimiter(text: str) -> str:
    """The field delimiter of CSV ``text`` among ``, ; TAB |``.

    Example:
        >>> detect_delimiter("a;b;c\\n1;2;3\\n")
        ';'
    """
    sample = text[:65536]
    if len(text) > 65536:
        sample = sample[: sample.rfind("\n") + 1] or sample
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    lines = [ln for ln in sample.splitlines() if ln.strip()][:50]
    best, best_score = ",", -1
    for d in DELIMITERS:
        counts = Counter(ln.count(d) for ln in lines)
        n, freq = max(counts.items(), key=lambda kv: (kv[1], kv[0])) if counts else (0, 0)
        score = freq if n > 0 else 0
        if score > best_score:
            best, best_score = d, score
    return best


def _nonempty(row: Iterable[Any]) -> int:
    return sum(1 for v in row if v is not None and str(v).strip() != "")


def find_header(rows: list[list[str]]) -> int:
    """0-based index (into ``rows``) of the header row.

    Title rows hold one or two filled cells; data rows mostly hold as many as the header. So the
    header is the first of the first 50 rows with at least the most common number of non-empty
    fields (a data row with an extra field does not move it).

    Example:
        >>> find_header([["Title", ""], ["a", "b"], ["1", "2"], ["3", "4", "5"]])
        1
    """
    scan = rows[:HEADER_SCAN_ROWS]
    counts = Counter(_nonempty(r) for r in scan)
    if not counts:
        return 0
    modal = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    for i, r in enumerate(scan):
        if _nonempty(r) >= modal:
            return i
    return 0


# --- shared table building ----------------------------------------------------------------------

def _locate_header(records: list[tuple[int, list[str]]], header_row: int | None, file: str,
                   sheet_label: str = "") -> tuple[list[tuple[int, list[str]]], int]:
    """(non-blank records, index of the header among them)."""
    nonblank = [(ln, r) for ln, r in records if _nonempty(r) > 0]
    if header_row is not None:
        idx = next((i for i, (ln, _) in enumerate(nonblank) if ln >= header_row), None)
        if idx is None:
            last = nonblank[-1][0] if nonblank else (records[-1][0] if records else 0)
            raise DataError("MD480", file=file, sheet=sheet_label, row=header_row,
                            detail=f"the last non-blank line is {last}")
        if nonblank[idx][0] != header_row:
            raise DataError("MD480", file=file, sheet=sheet_label, row=header_row,
                            detail="that line is blank")
        return nonblank, idx
    return nonblank, (find_header([r for _, r in nonblank]) if nonblank else 0)


def _names(header: list[str], header_line: int, *, file: str, table: str, cb: Codebook,
           sheet_label: str = "") -> list[str]:
    """Column names from the header cells: blanks named column_<n>, repeats renamed (MD483)."""
    names: list[str] = []
    seen: Counter = Counter()
    for j, h in enumerate(header):
        name = str(h).strip() or f"column_{j + 1}"
        if name in seen:
            new = f"{name}.{seen[name]}"
            cb.report.add("MD483", table=table, source_file=file, source_row=header_line, column=name,
                          value=name, action="kept", sheet=sheet_label, detail=f"to {new!r}")
            seen[name] += 1
            name = new
        else:
            seen[name] += 1
        names.append(name)
    return names


def _trim_header(header: list[str]) -> list[str]:
    header = list(header)
    # trailing empty header cells (Excel pads rows) are not columns
    while header and str(header[-1]).strip() == "":
        header = header[:-1]
    return header


def _finish_table(df: pd.DataFrame, names: list[str], *, file: str, table: str, cb: Codebook,
                  header_line: int, n_titles: int, sheet_label: str, rejected: int) -> pd.DataFrame:
    cb.report.set_counts(table, read=len(df) + rejected, kept=len(df), rejected=rejected)
    for c in names:
        cb.add(Variable(name=c, table=table, type="string"))
    cb.tables[table] = {"file": file, "header_row": header_line, "n_rows": len(df)}
    if n_titles:
        cb.notes.append(f"{file}{sheet_label}: {n_titles} title row(s) before the header on line "
                        f"{header_line} were skipped.")
    return df


def _build_table(records: list[tuple[int, list[str]]], *, file: str, table: str, header_row: int | None,
                 cb: Codebook, sheet_label: str = "",
                 broken: list[tuple[int, int | None]] = ()) -> pd.DataFrame:  # type: ignore[assignment]
    """records: (1-based source line/row, fields). Returns the table; problems into cb.report.
    ``broken``: (line, last line or None) of lines rejected for an unbalanced quote (MD485)."""
    report = cb.report
    nonblank, idx = _locate_header(records, header_row, file, sheet_label)
    if not nonblank:
        return pd.DataFrame()
    header_line, header = nonblank[idx]
    names = _names(_trim_header(header), header_line, file=file, table=table, cb=cb, sheet_label=sheet_label)
    ncol = len(names)
    keep_rows: list[list[str]] = []
    keep_lines: list[int] = []
    rejected = 0
    for ln, last in broken:
        rejected += 1
        report.add("MD485", table=table, source_file=file, source_row=ln, column=None, value=None,
                   action="rejected", detail=("it runs to the end of the file" if last is None
                                              else f"it runs on to line {last}, where another quote ends it"))
    for ln, r in nonblank[idx + 1:]:
        if len(r) > ncol and _nonempty(r[ncol:]) == 0:
            r = r[:ncol]
        elif len(r) < ncol and sheet_label:
            r = list(r) + [""] * (ncol - len(r))  # spreadsheets do not store trailing empty cells
        if len(r) != ncol:
            rejected += 1
            report.add("MD482", table=table, source_file=file, source_row=ln, column=None,
                       value=len(r), expected=ncol, action="rejected")
            continue
        keep_rows.append(r)
        keep_lines.append(ln)
    cols = list(zip(*keep_rows)) if keep_rows else [()] * ncol
    df = pd.DataFrame({c: pd.array(list(v), dtype=TEXT) for c, v in zip(names, cols)})
    df.insert(0, "_source_row", pd.Series(keep_lines, dtype="int64"))
    return _finish_table(df, names, file=file, table=table, cb=cb, header_line=header_line,
                         n_titles=idx, sheet_label=sheet_label, rejected=rejected)


def _fast_csv(text: str, delim: str, header_line: int, names: list[str]) -> pd.DataFrame | None:
    """The data lines after the header through pyarrow's CSV parser, or None to use the exact
    (slower) path: taken only when every record is one physical line with exactly as many fields
    as the header, so that line numbers and rejections stay exact."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    invalid: list[int] = []

    def handler(row) -> str:
        invalid.append(row.number)
        return "skip"

    body = text.rstrip("\r\n \t") + "\n"
    try:
        tbl = pacsv.read_csv(
            io.BytesIO(body.encode("utf-8")),
            read_options=pacsv.ReadOptions(skip_rows=header_line, column_names=names,
                                           block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delim, quote_char='"', double_quote=True,
                                             newlines_in_values=False, ignore_empty_lines=False,
                                             invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError, ValueError):
        return None
    # a quoted value with a line break makes a record span lines; then line numbers need the
    # exact path (pyarrow parses such values even with newlines_in_values=False)
    if invalid or tbl.num_rows != body.count("\n") - header_line:
        return None
    df = tbl.to_pandas(types_mapper={pa.string(): TEXT, pa.large_string(): TEXT}.get)
    df.insert(0, "_source_row", np.arange(header_line + 1, header_line + 1 + len(df), dtype="int64"))
    if len(df) and len(names):
        empty = np.ones(len(df), dtype=bool)
        for c in names:
            empty &= (df[c].str.strip() == "").to_numpy()
        if empty.any():  # lines of delimiters only count as blank, as in the exact path
            df = df[~empty].reset_index(drop=True)
    return df


def _csv_records(text: str, delim: str, header: tuple[int, int] | None, file: str
                 ) -> tuple[list[tuple[int, list[str]]], list[tuple[int, int | None]]]:
    """The records of CSV ``text`` as (first physical line, fields), and the lines rejected for
    an unbalanced quote as (line, last line it swallowed or None at the end of the file).

    ``header`` is (header line, number of columns). After it, a record that spans several lines
    and does not have that many fields, or takes in a line that holds a whole record's
    delimiters, is an unbalanced quote: its first line is set aside and
    the csv module starts again on the next line. A field too large for the csv module is the
    same. Without a header (none found in the first lines) a csv error is MD484.
    """
    lines = io.StringIO(text, newline="").readlines()
    records: list[tuple[int, list[str]]] = []
    broken: list[tuple[int, int | None]] = []
    i = 0  # 0-based index of the line the csv module starts on
    while i < len(lines):
        base = i
        reader = csv.reader((lines[k] for k in range(base, len(lines))), delimiter=delim)
        start = base + 1
        restart = None
        try:
            for row in reader:
                end = base + reader.line_num
                if header is not None and end > start > header[0] and (
                        not _fits(row, header[1]) or _swallows_records(lines, start, end, delim, header[1])):
                    broken.append((start, end if end < len(lines) else None))
                    restart = start  # the line after the one where the quote opens
                    break
                records.append((start, row))
                start = end + 1
        except csv.Error as e:
            if header is None or start <= header[0]:
                raise DataError("MD484", file=file, format="CSV", detail=f"line {start}: {e}") from e
            broken.append((start, None))
            restart = start
        if restart is None:
            break
        i = restart
    return records, broken


def _swallows_records(lines: list[str], start: int, end: int, delim: str, ncol: int) -> bool:
    """True when a line inside a multi-line record (lines ``start+1 .. end``, 1-based) holds as
    many delimiters as a whole record: a quote opened in the last field took in later records."""
    return ncol > 1 and any(lines[k].count(delim) >= ncol - 1 for k in range(start, end))


def _fits(row: list[str], ncol: int) -> bool:
    """True when a record has the header's number of fields (trailing empty ones aside)."""
    return len(row) == ncol or (len(row) > ncol and _nonempty(row[ncol:]) == 0)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataError("MD001", path=str(path))
    if path.stat().st_size == 0:
        raise DataError("MD002", path=str(path))


# --- CSV -----------------------------------------------------------------------------------------

def read_csv(path: str | Path, encoding: str | None = None, delimiter: str | None = None,
             header_row: int | None = None, table: str | None = None) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read a delimited text file into one table of strings (named ``table`` or the file stem).

    Example:
        >>> tables, cb = read_csv("lgu_persons.csv", header_row=3)    # doctest: +SKIP
        >>> tables["lgu_persons"].dtypes.unique()                      # doctest: +SKIP
    """
    path = Path(path)
    _check_file(path)
    text, used = detect_encoding(path.read_bytes(), str(path), encoding)
    if not text.strip():
        raise DataError("MD002", path=str(path))
    delim = delimiter or detect_delimiter(text)
    name = table or path.stem
    cb = Codebook(source=str(path), format="csv")
    # the header is found from the first lines with the csv module; the body is parsed by
    # pyarrow when it is regular, else by the csv module line by line (exact locations)
    head: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text[: 1 << 20], newline=""), delimiter=delim)
    start = 1
    limit = (header_row or 0) + HEADER_SCAN_ROWS
    try:
        for row in reader:
            head.append((start, row))
            start = reader.line_num + 1
            if len(head) >= limit:
                break
    except csv.Error:
        pass  # (a field beyond the csv module's limit) the lines before it still show the header
    df = None
    if head:
        try:
            nonblank, idx = _locate_header(head, header_row, str(path))
        except DataError:
            nonblank, idx = [], 0  # let the exact path raise with the whole file in view
        if nonblank:
            header_line, header = nonblank[idx]
            trimmed = _trim_header(header)
            upto = head[: next(j for j, (ln, _) in enumerate(head) if ln == header_line) + 1]
            # every line up to the header is one record, so pyarrow can skip header_line lines
            if len(trimmed) == len(header) and trimmed and \
                    all(ln == i + 1 for i, (ln, _) in enumerate(upto)):
                probe = Codebook(source=str(path), format="csv")
                names = _names(trimmed, header_line, file=str(path), table=name, cb=probe)
                df = _fast_csv(text, delim, header_line, names)
                if df is not None:
                    cb.report.extend(probe.report)
                    df = _finish_table(df, names, file=str(path), table=name, cb=cb,
                                       header_line=header_line,
                                       n_titles=sum(1 for _ in nonblank[:idx]), sheet_label="", rejected=0)
    if df is None:
        header = None
        if head:
            try:
                nonblank, idx = _locate_header(head, header_row, str(path))
                if nonblank:
                    header = (nonblank[idx][0], len(_trim_header(nonblank[idx][1])))
            except DataError:
                pass  # the whole file decides below
        records, broken = _csv_records(text, delim, header, str(path))
        df = _build_table(records, file=str(path), table=name, cb=cb, broken=broken,
                          header_row=header_row if header is None else header[0])
        cb.tables[name]["parser"] = "csv module (exact)"
    else:
        cb.tables[name]["parser"] = "pyarrow"
    if len(df) == 0 and not cb.report.problems:
        raise DataError("MD002", path=str(path))
    cb.tables[name].update({"encoding": used, "delimiter": delim})
    cb.notes.append(f"{path.name}: read as {used}, delimiter {delim!r}, header on line "
                    f"{cb.tables[name]['header_row']}.")
    return {name: df}, cb


# --- Excel ---------------------------------------------------------------------------------------

def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ") if (v.hour or v.minute or v.second) else v.date().isoformat()
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return str(v)


def read_excel(path: str | Path, sheet: str | list[str] | None = None, header_row: int | None = None
               ) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read the sheets of an .xlsx/.xlsm workbook (all, or ``sheet``) as tables of strings.

    Example:
        >>> tables, cb = read_excel("survey.xlsx", sheet="persons")   # doctest: +SKIP
    """
    import openpyxl

    path = Path(path)
    _check_file(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # InvalidFileException, BadZipFile, KeyError, XML errors, ...
        raise DataError("MD484", file=str(path), format="an Excel .xlsx workbook",
                        detail=f"{type(e).__name__}: {e}") from None
    try:
        names = wb.sheetnames
        wanted = names if sheet is None else ([sheet] if isinstance(sheet, str) else list(sheet))
        for s in wanted:
            if s not in names:
                raise DataError("MD481", file=str(path), value=s, choices=", ".join(names))
        cb = Codebook(source=str(path), format="excel")
        tables: dict[str, pd.DataFrame] = {}
        for s in wanted:
            ws = wb[s]
            try:
                records = [(i, [_cell_text(v) for v in row])
                           for i, row in enumerate(ws.iter_rows(values_only=True), start=1)]
            except Exception as e:  # damaged XML or zip member: parsed only while rows are read
                raise DataError("MD484", file=str(path), format="an Excel .xlsx workbook",
                                detail=f"sheet {s!r} cannot be read ({type(e).__name__}: {e})") from None
            if not any(_nonempty(r) for _, r in records):
                cb.notes.append(f"{path.name}: sheet {s!r} is empty and was skipped.")
                continue
            tables[s] = _build_table(records, file=str(path), table=s, header_row=header_row, cb=cb,
                                     sheet_label=f", sheet {s!r}")
            cb.tables[s]["sheet"] = s
    finally:
        wb.close()
    if not tables:
        raise DataError("MD002", path=str(path))
    return tables, cb


def read(path: str | Path, **options: Any) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read a CSV/TSV/TXT or Excel file, choosing by extension.

    Options: CSV ``encoding``, ``delimiter``, ``header_row``, ``table``; Excel ``sheet``, ``header_row``.

    Example:
        >>> tables, cb = read("households.csv", delimiter=";")       # doctest: +SKIP
    """
    ext = Path(path).suffix.lower()
    if ext in (".xlsx", ".xlsm"):
        return read_excel(path, **options)
    if ext == ".xls":
        raise DataError("MD484", file=str(path), format="an Excel .xlsx workbook",
                        detail="the old .xls format is not supported")
    return read_csv(path, **options)


def describe(path: str | Path, **options: Any) -> str:
    """What the CSV/Excel reader made of a file, as text for the terminal (``migdata sniff FILE``):
    per table the encoding, delimiter, header line, parser, rows and columns, then the problems.

    Example:
        >>> print(describe("households.csv"))                         # doctest: +SKIP
        households.csv
          table households: 1,249 rows x 11 columns; encoding utf-8, delimiter ',', header on line 1
    """
    tables, cb = read(path, **options)
    lines = [str(path)]
    for name, df in tables.items():
        info = cb.tables.get(name, {})
        bits = [f"{len(df):,} rows x {df.shape[1] - 1} columns"]
        if "encoding" in info:
            bits.append(f"encoding {info['encoding']}, delimiter {info['delimiter']!r}")
        bits.append(f"header on {'row' if 'sheet' in info else 'line'} {info.get('header_row')}")
        lines.append(f"  table {name}: " + "; ".join(bits))
        cols = [c for c in df.columns if c != "_source_row"]
        lines.append("    columns: " + ", ".join(cols[:30]) + (" ..." if len(cols) > 30 else ""))
    for n in cb.notes:
        lines.append(f"  note: {n}")
    if cb.report.problems:
        lines.append(f"  {len(cb.report.problems):,} problem(s):")
        lines += [f"    - {p.message}" for p in cb.report.problems[:20]]
    return "\n".join(lines)
