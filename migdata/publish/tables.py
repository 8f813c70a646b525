"""Published indicator tables: the estimates of :mod:`migdata.indicators` with disclosure control.

Every output of an indicator (Excel and CSV workbooks, the migration profile report, the CLI,
notebooks) is a *published* table made here, so the same cell shows the same number everywhere:

- complete counts (CBMS, census) get disclosure control, the cell-key method
  (:mod:`migdata.publish.disclosure`);
- sample-survey estimates whose reliability flag is ``suppress`` are hidden (their flag comes
  from the design's reliability policy, :mod:`migdata.survey.reliability`);
- the columns disclosure control reads (cell keys, largest contributions) are dropped.

Example:
    >>> import migdata
    >>> t = migdata.compute(migdata.load("store"), level="province", by=["sex"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import pandas as pd

from migdata.errors import UsageError
from migdata.publish import disclosure
from migdata.survey import reliability

#: Columns of a raw indicator table that never reach a published one.
INTERNAL = ("_ck_num", "_ck_den", "_top_num", "_top_den")


def is_published(table: pd.DataFrame) -> bool:
    """True for a table :func:`protect` made, even after filtering or concatenation lost its
    attributes: raw complete-count rows carry the cell keys (dropped on publishing), and raw
    survey rows leave unreliable estimates unhidden."""
    if table.attrs.get("published"):
        return True
    if any(c in table.columns for c in INTERNAL):
        return False
    if "flag" in table.columns and "suppressed" in table.columns:
        unhidden = (table["flag"].astype(str) == reliability.SUPPRESS) & ~table["suppressed"].astype(bool)
        return not bool(unhidden.any())
    return True


def protect(table: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """The published form of a raw indicator table (a copy; a published table comes back as is):
    :func:`migdata.publish.disclosure.control` (the cell-key method on complete counts, unreliable
    survey estimates hidden, the columns only disclosure control reads dropped).

    ``k``: disclosure threshold for complete counts (no published count lies in 1..k-1).
    """
    if is_published(table):
        return table
    out = disclosure.control(table, k=k)
    out.attrs["published"] = True
    out.attrs["k"] = k
    return out


def compute(dataset: Any, ids: Sequence[str] | str | None = None, level: str = "city",
            by: Sequence[str] | str | None = ("sex", "age_group"), age_scheme: str | Sequence[int] = "broad",
            k: int = 3, policy: Any = None, engine: Any = None, progress: Any = None,
            cache: bool = True) -> pd.DataFrame:
    """Indicator tables ready to publish: :func:`migdata.indicators.compute`, then :func:`protect`.

    Arguments as :func:`migdata.indicators.compute` (a partitioned store, or its folder, is
    evaluated partition by partition on ``engine``); ``k`` is the disclosure threshold;
    ``progress`` hears each indicator of a dataset, or each partition of a store
    (:mod:`migdata.progress`).

    Example:
        >>> import migdata
        >>> t = migdata.compute(migdata.load("store"), ids=["OF02"], level="city")  # doctest: +SKIP
    """
    from migdata.indicators import compute as estimate
    from migdata.indicators.streams import compute_database
    from migdata.model.database import Database

    if isinstance(dataset, Database):  # every stream, each with its own design, side by side
        raw = compute_database(dataset, ids=ids, level=level, by=by, age_scheme=age_scheme, policy=policy,
                               progress=progress)
    else:
        raw = estimate(dataset, ids=ids, level=level, by=by, age_scheme=age_scheme, policy=policy,
                       engine=engine, progress=progress, cache=cache)
    return protect(raw, k=k)


def compute_batches(dataset: Any, ids: Sequence[str] | str | None = None, level: str = "city",
                    by: Sequence[str] | str | None = ("sex", "age_group"), age_scheme: str | Sequence[int] = "broad",
                    k: int = 3, policy: Any = None, engine: Any = None, progress: Any = None,
                    cache: bool = True, attrs: dict[str, Any] | None = None) -> Iterator[pd.DataFrame]:
    """:func:`compute` one indicator at a time (:func:`migdata.indicators.compute_batches`), each
    table protected as it comes: the same rows, never the whole national table in memory.

    Example:
        >>> n = sum(len(t) for t in compute_batches("store", level="barangay"))  # doctest: +SKIP
    """
    from migdata.indicators.evaluate import compute_batches as estimate_batches

    for raw in estimate_batches(dataset, ids=ids, level=level, by=by, age_scheme=age_scheme, policy=policy,
                                engine=engine, progress=progress, cache=cache, attrs=attrs):
        # disclosure control is row by row: a national indicator is protected in pieces
        for start in range(0, len(raw), BATCH_ROWS):
            yield protect(raw.iloc[start:start + BATCH_ROWS], k=k)
        del raw  # before the next indicator is finished, not after


#: Rows protected and written at a time by :func:`compute_batches` (a national distribution at
#: barangay level has tens of millions).
BATCH_ROWS = 2_000_000


def write_parquet(batches: Iterable[pd.DataFrame], path: str | os.PathLike[str]) -> Path:
    """Write published tables (an iterable of them, e.g. :func:`compute_batches`) one after the
    other into one Parquet file, as published (suppressed values blank, text as text), holding
    one batch at a time; the file appears only when complete.

    Example:
        >>> write_parquet(compute_batches("store", level="barangay"), "tables.parquet")  # doctest: +SKIP
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from migdata.fileio import atomic_write
    from migdata.publish.excel import publishable

    def build(tmp: Path) -> None:
        writer = schema = None
        try:
            for table in batches:
                pub = protect(table).copy(deep=False)
                pub.attrs = {}  # pandas compares attrs (they hold frames) in the steps below
                pub = publishable(pub)
                batch = pa.Table.from_pandas(pub, preserve_index=False)
                del pub
                if writer is None:
                    # text as plain strings (Arrow decodes the categories, no Python string per
                    # row), so that every batch has one schema
                    schema = pa.schema([pa.field(f.name, pa.string()) if _is_text(f.type) else f
                                        for f in batch.schema])
                    writer = pq.ParquetWriter(tmp, schema, compression="zstd")
                writer.write_table(pa.table([batch[n].cast(schema.field(n).type) for n in schema.names],
                                            schema=schema))
                # the batch and its Arrow copy go before the next is made (a national indicator's
                # next batch may be its successor's, finished meanwhile)
                table = batch = None
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise UsageError("MD717", path=path)

    return atomic_write(path, build)


def _is_text(t: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)


def write_tables(dataset: Any, out: str | os.PathLike[str], level: str = "province",
                 by: Sequence[str] | str = ("sex", "age_group"), ids: Sequence[str] | str | None = None,
                 age_scheme: str | Sequence[int] = "broad", k: int = 3, policy: Any = None,
                 csv: bool = False, engine: Any = None, progress: Any = None) -> list[Path]:
    """Compute the published tables of ``dataset`` (a dataset or a store folder) and write the
    Excel workbook (and the long table as CSV beside it with ``csv=True``). Returns the files
    written. This is what ``migdata indicators`` runs.

    Example:
        >>> write_tables("store", "tables.xlsx", level="city", by="sex,age_group")  # doctest: +SKIP
    """
    from migdata.model.database import is_database, open_path
    from migdata.model.partitions import is_partitioned
    from migdata.publish.excel import write_csv, write_workbook

    from migdata.progress import as_progress

    say = as_progress(progress)
    data = dataset
    if isinstance(dataset, (str, os.PathLike)) and (is_database(dataset) or not is_partitioned(dataset)):
        data = open_path(dataset)  # a partitioned store is evaluated partition by partition
    if Path(out).suffix.lower() == ".parquet":  # any size: written one indicator at a time
        batches = compute_batches(data, ids=ids, level=level, by=by, age_scheme=age_scheme, k=k, policy=policy,
                                  engine=engine, progress=say)
        return [write_parquet(batches, out)]
    table = compute(data, ids=ids, level=level, by=by, age_scheme=age_scheme, k=k, policy=policy,
                    engine=engine, progress=say)
    say(f"writing {out}")
    paths = [write_workbook(table, out)]
    if csv:
        say(f"writing {Path(out).with_suffix('.csv')}")
        paths.append(write_csv(table, Path(out).with_suffix(".csv")))
    return paths
