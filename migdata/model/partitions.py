"""The partitioned dataset store: tables split by area into hive-style Parquet folders.

A national CBMS (110 M persons) does not fit in the memory of an LGU's or a regional office's
computer, and a province's report should not read the country. A partitioned store keeps each
area's rows apart, in the layout that DuckDB, Arrow, pandas, Spark and Dask read natively::

    store/
      manifest.json
      households/reg=0400000000/prov=0402100000/part-00000.parquet
      persons/reg=0400000000/prov=0402100000/part-00000.parquet
      ...

- **By province, inside region.** A province (or highly urbanised city shown as one, or an NCR
  district) holds 0.1-5 M persons, so one partition always fits in memory and a municipality's
  report reads one; region folders let a region read only its own. Households are placed by
  their ``region`` and ``province`` columns; every person (and every row of a survey table with
  ``hh_id``) goes with its household, so all the rows of a household are in one partition and
  household aggregates (size, OFs, the child-parent link) are partition-local. Rows without an
  area go to ``__HIVE_DEFAULT_PARTITION__`` (Hive's name for a missing value).
- **Folder keys are not column names.** ``reg`` and ``prov`` hold the 10-digit PSGC codes, and
  the data files keep their own ``region``/``province`` columns as text: engines infer folder
  values as numbers (``0402100000`` -> 402100000), which would clash with, or replace, the text
  columns if the names were the same. Read the folders as text where you filter on them
  (DuckDB: ``hive_types={'prov': 'VARCHAR'}``), or filter on the columns.
- **Checksums per part.** ``manifest.json`` lists every part (file, partition, rows, SHA-256),
  the columns each table has values in, and each partition's cities/municipalities, so that the
  estimation engine and ``load(store, area=...)`` know what to read without opening the data.

Stores of the unpartitioned format (one file or numbered parts per table) keep loading through
:func:`migdata.model.data.load`; :class:`Store` reads both.

Example:
    >>> import pandas as pd, tempfile
    >>> from migdata.model.data import HouseholdData
    >>> hh = pd.DataFrame({"hh_id": ["a", "b"], "region": ["0400000000"] * 2,
    ...                    "province": ["0402100000", "0403400000"]})
    >>> pp = pd.DataFrame({"hh_id": ["a", "b", "b"], "line_no": [1, 1, 2]})
    >>> folder = save_partitioned(HouseholdData({"households": hh, "persons": pp}), tempfile.mkdtemp() + "/s")
    >>> sorted(str(p.relative_to(folder)) for p in folder.glob("persons/*/*/*.parquet"))
    ['persons/reg=0400000000/prov=0402100000/part-00000.parquet', 'persons/reg=0400000000/prov=0403400000/part-00000.parquet']
    >>> Store(folder).read(area="0403400000").persons["line_no"].tolist()
    [1, 2]
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from migdata.errors import StoreError, UsageError

#: The levels a store is partitioned by, coarse to fine, and their folder keys.
LEVELS: tuple[str, ...] = ("region", "province")
FOLDER_KEY: dict[str, str] = {"region": "reg", "province": "prov"}
NULL = "__HIVE_DEFAULT_PARTITION__"
LAYOUT = "hive"


@dataclass(frozen=True)
class Partition:
    """One area's part of a store: its key (one code per partition level, None where missing),
    its files per table (manifest entries) and the cities/municipalities in it."""

    key: tuple[str | None, ...]
    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict, compare=False, hash=False)
    cities: tuple[str, ...] = field(default=(), compare=False, hash=False)

    @property
    def rows(self) -> dict[str, int]:
        return {t: sum(int(p["rows"]) for p in ps) for t, ps in self.files.items()}

    def label(self, levels: Sequence[str] = LEVELS) -> str:
        return "/".join(f"{lv}={k or '-'}" for lv, k in zip(levels, self.key))


def folder(table: str, key: Sequence[str | None], levels: Sequence[str] = LEVELS) -> str:
    """The folder of ``table``'s rows of partition ``key`` (relative to the store)."""
    return "/".join([table] + [f"{FOLDER_KEY[lv]}={k if k else NULL}" for lv, k in zip(levels, key)])


def household_keys(households: pd.DataFrame, levels: Sequence[str] = LEVELS
                   ) -> tuple[list[tuple[str | None, ...]], np.ndarray]:
    """The partitions of a households table: the distinct keys (sorted, missing codes last)
    and each household's key number."""
    n = len(households)
    key = np.zeros(n, dtype=np.int64)
    labels = []
    for lv in levels:
        s = households[lv] if lv in households.columns else pd.Series([None] * n, dtype="object")
        codes, uniq = pd.factorize(s.astype("string"), sort=True)  # missing: -1
        uniq = [str(u) for u in uniq]
        key = key * (len(uniq) + 1) + np.where(codes < 0, len(uniq), codes)
        labels.append(uniq + [None])
    used, inv = np.unique(key, return_inverse=True)
    keys = []
    for k in used.tolist():
        parts = []
        for lab in reversed(labels):
            parts.append(lab[k % len(lab)])
            k //= len(lab)
        keys.append(tuple(reversed(parts)))
    return keys, inv.reshape(-1).astype(np.int64)


def split(tables: dict[str, pd.DataFrame], levels: Sequence[str] = LEVELS
          ) -> tuple[list[tuple[str | None, ...]], dict[str, list[np.ndarray]], list[str]]:
    """Row positions of every table in each partition (keys as :func:`household_keys`).

    Rows of tables with ``hh_id`` follow their household (a row whose household is not in the
    households table goes to the partition of missing codes); tables without ``hh_id`` are not
    partitioned (returned in the third value)."""
    from migdata.model.frame import household_positions

    hh = tables.get("households", pd.DataFrame())
    keys, code = household_keys(hh, levels)
    rows: dict[str, list[np.ndarray]] = {}
    whole = []
    for name, df in tables.items():
        if name == "households":
            c = code
        elif "hh_id" in df.columns and "hh_id" in hh.columns:
            pos = household_positions(hh, df)
            c = np.where(pos >= 0, code[np.maximum(pos, 0)] if len(code) else -1, -1)
            if (c < 0).any():
                none = tuple([None] * len(levels))
                if none not in keys:
                    keys.append(none)
                c = np.where(c < 0, keys.index(none), c)
        else:
            whole.append(name)
            continue
        order = np.argsort(c, kind="stable")
        bounds = np.searchsorted(c[order], np.arange(len(keys) + 1))
        rows[name] = [order[bounds[i]:bounds[i + 1]] for i in range(len(keys))]
    for name in rows:  # keys added for orphans: every table gets a (maybe empty) list per key
        rows[name] += [np.zeros(0, dtype=np.int64)] * (len(keys) - len(rows[name]))
    return keys, rows, whole


def present_columns(df: pd.DataFrame) -> list[str]:
    """Columns of ``df`` with at least one value (what an indicator can be computed from)."""
    return [str(c) for c in df.columns if df[c].notna().any()]


class PartitionWriter:
    """Writes the parts of a partitioned store into a temporary folder, then the manifest, then
    swaps the folder in (atomically, as :meth:`HouseholdData.save`).

    Parts are written on two threads (Parquet encoding and hashing release the GIL) as they
    arrive: ``write(table, key, frame)`` can be called chunk by chunk, so a streaming import
    never holds more than a chunk. Example in the module docstring."""

    def __init__(self, target: str | os.PathLike[str], dataset_id: str, force: bool = False,
                 levels: Sequence[str] = LEVELS, part_rows: int | None = None) -> None:
        from migdata.model import data as store

        self.target = Path(target)
        store._check_target(self.target, dataset_id, force)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = store._new_temp(self.target)
        self.levels = tuple(levels)
        self.part_rows = part_rows or store.PART_ROWS
        self.pool = ThreadPoolExecutor(store.WORKERS)
        self.pending: list[tuple[str, tuple[str | None, ...] | None, str, int, Future]] = []
        self.present: dict[str, set[str]] = {}
        self.columns: dict[str, list[str]] = {}
        self.cities: dict[tuple[str | None, ...], set[str]] = {}
        self.seq: dict[str, int] = {}
        self.lock = threading.Lock()
        self.closed = False

    def write(self, table: str, key: tuple[str | None, ...] | None, df: pd.DataFrame) -> list[str]:
        """Queue rows ``df`` of ``table`` in partition ``key`` (None: an unpartitioned table);
        returns the parts' file names (relative to the store)."""
        from migdata.model import data as store

        if not len(df) and table in self.columns:
            return []
        written = []
        self.columns.setdefault(table, [str(c) for c in df.columns])
        # only the columns no earlier chunk had a value in are looked at again
        known = self.present.setdefault(table, set())
        known.update(str(c) for c in df.columns if str(c) not in known and df[c].notna().any())
        if table == "households" and key is not None and "city_mun" in df.columns:
            self.cities.setdefault(key, set()).update(
                str(c) for c in pd.unique(df["city_mun"].dropna()))
        elif key is not None:
            self.cities.setdefault(key, set())
        n = len(df)
        for lo in range(0, max(n, 1), self.part_rows):
            part = df.iloc[lo:lo + self.part_rows]
            base = folder(table, key, self.levels) if key is not None else table
            seq = self.seq.get(base, 0)
            self.seq[base] = seq + 1
            rel = f"{base}/part-{seq:05d}.parquet"
            (self.tmp / base).mkdir(parents=True, exist_ok=True)
            fut = self.pool.submit(store._write_part, self.tmp / rel, part)
            self.pending.append((table, key, rel, len(part), fut))
            written.append(rel)
        # bounded memory: never more than a few parts waiting for a writer thread
        while sum(1 for p in self.pending if not p[4].done()) > 2 * store.WORKERS:
            next(p for p in self.pending if not p[4].done())[4].result()
        return written

    def read_part(self, rel: str) -> pd.DataFrame:
        """A part already queued (waits until it is written)."""
        for _, _, r, _, fut in self.pending:
            if r == rel:
                fut.result()
                return pd.read_parquet(self.tmp / rel, partitioning=None)
        raise KeyError(rel)

    def drop(self, rels: Iterable[str]) -> None:
        """Remove parts already queued (a streaming import rewrites the parts that held rows
        its last checks rejected)."""
        rels = set(rels)
        for _, _, r, _, fut in self.pending:
            if r in rels:
                fut.result()
                (self.tmp / r).unlink()
        self.pending = [p for p in self.pending if p[2] not in rels]

    def close(self, manifest: dict[str, Any]) -> Path:
        """Wait for the parts, write ``manifest`` (completed with the parts) and swap it in."""
        from migdata.model import data as store

        tables: dict[str, dict[str, Any]] = {}
        for table, key, rel, n, fut in self.pending:
            meta = tables.setdefault(table, {"rows": 0, "parts": [], "columns": self.columns.get(table, [])})
            meta["rows"] += n
            entry = {"file": rel, "rows": n, "sha256": fut.result()}
            if key is not None:
                entry["partition"] = dict(zip(self.levels, key))
            meta["parts"].append(entry)
        for table, meta in tables.items():
            cols = meta["columns"]
            meta["present"] = [c for c in cols if c in self.present.get(table, set())]
        self.pool.shutdown(wait=True)
        manifest = dict(manifest)
        manifest["tables"] = {**manifest.get("tables", {}), **tables}
        manifest["partitioning"] = {
            "layout": LAYOUT, "levels": list(self.levels),
            "folder_keys": [FOLDER_KEY[lv] for lv in self.levels],
            "partitions": [{"key": dict(zip(self.levels, k)), "cities": sorted(c)}
                           for k, c in sorted(self.cities.items(), key=lambda kv: _sort_key(kv[0]))],
        }
        store.write_manifest(self.tmp, manifest)
        store._swap_in(self.tmp, self.target)
        self.closed = True
        return self.target

    def abort(self) -> None:
        """Remove the temporary folder (the target is left as it was)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _sort_key(key: Sequence[str | None]) -> tuple:
    return tuple((k is None, k or "") for k in key)


def base_manifest(data: Any) -> dict[str, Any]:
    """The manifest fields of a dataset that do not depend on how its tables are stored."""
    from migdata._version import __version__
    from migdata.model import data as store

    prov = data.provenance
    return {
        "format": store.STORE_FORMAT,
        "format_version": store.STORE_FORMAT_VERSION,
        "dataset_id": data.dataset_id,
        "migdata_version": __version__,
        "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "sources": prov.sources, "rounds": prov.rounds, "period": prov.period,
        "psgc_release": prov.psgc_release,
        "provenance": prov.to_dict(),
        "import_report": data.report.to_dict(),
    }


def save_partitioned(data: Any, path: str | os.PathLike[str], force: bool = False,
                     levels: Sequence[str] = LEVELS) -> Path:
    """Write ``data`` (a :class:`~migdata.model.data.HouseholdData`) as a partitioned store at
    ``path`` (atomically; an existing different dataset only with ``force``); returns the folder.
    ``levels``: the partition levels (``("region",)`` for a region-level layout)."""
    levels = tuple(lv for lv in levels if lv in LEVELS)
    w = PartitionWriter(path, data.dataset_id, force, levels)
    try:
        keys, rows, whole = split(data.tables, levels)
        for name, df in data.tables.items():
            if name in whole:
                w.write(name, None, df)
                continue
            for key, r in zip(keys, rows[name]):
                if len(r):
                    w.write(name, key, df.iloc[r])
            if not len(df):
                w.write(name, keys[0] if keys else tuple([None] * len(levels)), df)
        if data.codebook is not None:
            w.write("_codebook", None, data.codebook.astype("string"))
        return w.close(base_manifest(data))
    except BaseException:
        w.abort()
        raise


class Store:
    """A saved dataset store, opened without reading its tables: its manifest, provenance,
    import report and partitions; :meth:`read` loads all of it or only an area's partitions.

    An unpartitioned store is one partition (key ``()``).

    Example:
        >>> Store("store").partitions[0].key                    # doctest: +SKIP
        ('0400000000', '0402100000')
    """

    def __init__(self, path: str | os.PathLike[str], verify: bool = True) -> None:
        from migdata.model.data import read_manifest, stored_provenance
        from migdata.model.report import ImportReport

        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.verify = verify
        part = self.manifest.get("partitioning") or {}
        self.levels: tuple[str, ...] = tuple(part.get("levels") or ())
        self.partitioned = bool(self.levels)
        self.provenance = stored_provenance(self.manifest)
        self.report = ImportReport.from_dict(self.manifest.get("import_report", {}))
        self._codebook: pd.DataFrame | None = None
        tables = self.manifest["tables"]
        cities = {tuple(p["key"].get(lv) for lv in self.levels): tuple(p.get("cities", ()))
                  for p in part.get("partitions", [])}
        files: dict[tuple[str | None, ...], dict[str, list[dict[str, Any]]]] = {}
        self.whole: dict[str, list[dict[str, Any]]] = {}
        for name, meta in tables.items():
            parts = meta.get("parts") or [{"file": meta["file"], "sha256": meta["sha256"], "rows": meta["rows"]}]
            for p in parts:
                if "partition" in p and self.partitioned:
                    key = tuple(p["partition"].get(lv) for lv in self.levels)
                    files.setdefault(key, {}).setdefault(name, []).append(p)
                else:
                    self.whole.setdefault(name, []).append(p)
        if not self.partitioned:
            files = {(): {n: ps for n, ps in self.whole.items() if n != "_codebook"}}
            self.whole = {n: ps for n, ps in self.whole.items() if n == "_codebook"}
        self.partitions = [Partition(k, files[k], cities.get(k, ())) for k in sorted(files, key=_sort_key)]

    # -- what the store holds -------------------------------------------------------------
    @property
    def dataset_id(self) -> str:
        return self.provenance.dataset_id

    @property
    def spec(self) -> Any:
        return self.provenance.design

    @property
    def complete_count(self) -> bool:
        return self.provenance.complete_count

    def tables(self) -> list[str]:
        return [t for t in self.manifest["tables"] if t != "_codebook"]

    def present(self, table: str) -> set[str]:
        """Columns of ``table`` with at least one value (read from the data for stores that do
        not record it)."""
        meta = self.manifest["tables"].get(table)
        if meta is None:
            return set()
        if "present" in meta:
            return set(meta["present"])
        found: set[str] = set()
        for part in self.partitions:
            if table in part.files:
                found.update(present_columns(self.read_table(part, table)))
        return found

    def rows(self, table: str) -> int:
        """Rows of ``table`` in the store (0 when it has none)."""
        return int(self.manifest["tables"].get(table, {}).get("rows", 0))

    def codes(self, level: str) -> set[str]:
        """The distinct codes of a partition level in the store (from the manifest)."""
        i = self.levels.index(level)
        return {p.key[i] for p in self.partitions if p.key[i] is not None}

    @property
    def codebook(self) -> pd.DataFrame | None:
        if self._codebook is None and "_codebook" in self.whole:
            self._codebook = self._read_files("_codebook", self.whole["_codebook"])
        return self._codebook

    # -- selecting and reading ---------------------------------------------------------------
    def select(self, area: str | None) -> list[Partition]:
        """The partitions holding ``area`` (a PSGC code of a region, province, city/municipality
        or barangay; None: all). A code the store does not hold is a :class:`UsageError`."""
        if area is None or not self.partitioned:
            return list(self.partitions)
        code = str(area).strip()
        for i in range(len(self.levels)):
            hit = [p for p in self.partitions if p.key[i] == code]
            if hit:
                return hit
        hit = [p for p in self.partitions if code in p.cities]
        if not hit:
            city = _city_of(code)
            hit = [p for p in self.partitions if city is not None and city in p.cities]
        if not hit:
            raise UsageError("MD140", value=code, path=self.path,
                             choices=", ".join(sorted({k for p in self.partitions for k in p.key if k}))[:400])
        return hit

    def view(self, area: str | None) -> "Store":
        """The store restricted to the partitions holding ``area`` (:meth:`select`): what an area's
        tables are computed from without reading the other partitions. Rows and present columns
        stay those of the whole store's manifest.

        Example:
            >>> Store("store").view("0403400000").partitions[0].key  # doctest: +SKIP
            ('0400000000', '0403400000')
        """
        import copy

        out = copy.copy(self)
        out.partitions = self.select(area)
        return out

    def _read_files(self, name: str, parts: list[dict[str, Any]], columns: Sequence[str] | None = None
                    ) -> pd.DataFrame:
        from migdata.model.data import table_parts

        paths = table_parts(self.path, name, {"parts": parts}, self.verify)
        try:
            df = pd.read_parquet(paths, engine="pyarrow", columns=list(columns) if columns else None,
                                 partitioning=None)  # the folder keys are not columns
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise StoreError("MD128", path=paths[0], table=name, detail=str(exc)) from None
        if len(df) != sum(int(p["rows"]) for p in parts):
            raise StoreError("MD127", path=paths[0], table=name)
        return df.reset_index(drop=True)

    def read_table(self, partition: Partition, table: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One table of one partition (an empty frame with the table's columns if it has none)."""
        parts = partition.files.get(table)
        if not parts:
            cols = self.manifest["tables"].get(table, {}).get("columns", [])
            return pd.DataFrame({c: pd.Series(dtype=object) for c in (columns or cols)})
        return self._read_files(table, parts, columns)

    def read(self, partitions: Iterable[Partition] | None = None, area: str | None = None,
             tables: Sequence[str] | None = None) -> Any:
        """A :class:`~migdata.model.data.HouseholdData` of the given partitions (default: those
        of ``area``, or all): rows of each table partition after partition."""
        from migdata.model.data import HouseholdData

        parts = list(partitions) if partitions is not None else self.select(area)
        out: dict[str, pd.DataFrame] = {}
        for name in self.tables():
            if tables is not None and name not in tables:
                continue
            if name in self.whole:
                out[name] = self._read_files(name, self.whole[name])
                continue
            frames = [self.read_table(p, name) for p in parts if name in p.files]
            if frames:
                out[name] = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            else:
                out[name] = self.read_table(Partition(()), name)
        return HouseholdData(out, codebook=self.codebook, provenance=self.provenance.replace(), report=self.report)

    def __repr__(self) -> str:
        kind = f"partitioned by {', '.join(self.levels)}" if self.partitioned else "unpartitioned"
        return f"<Store {self.path} ({kind}, {len(self.partitions)} partition(s))>"


CACHE = "_cache"  # a folder of the store that no manifest lists: results computed from its parts


def cached(store: "Store", partition: Partition, what: Any, compute: Any) -> Any:
    """``compute()`` for ``partition``, kept in the store's cache folder under a key made of
    ``what`` (pickled: e.g. an evaluation plan), the partition's files and their checksums and
    the migdata version, so a changed partition, plan or program never reads a stale result.
    The cache lives and dies with the store (saving the store again replaces the folder);
    a store that cannot be written (a read-only drive) is simply not cached."""
    import hashlib
    import pickle

    from migdata._version import __version__

    h = hashlib.sha256(pickle.dumps((what, __version__), protocol=4))
    for table in sorted(partition.files):
        for p in partition.files[table]:
            h.update(f"{p['file']}:{p['sha256']}".encode())
    path = store.path / CACHE / f"{h.hexdigest()[:40]}.pkl"
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except Exception:  # a damaged or foreign cache file: compute again
            pass
    out = compute()
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}-{threading.get_ident()}")
        with open(tmp, "wb") as fh:
            pickle.dump(out, fh, protocol=4)
        os.replace(tmp, path)
    except OSError:  # read-only store: no cache
        pass
    return out


def _city_of(code: str) -> str | None:
    """The city/municipality of a barangay code (None when the reference does not know it)."""
    try:
        import migdata.areas as areas

        up = areas.rollup(pd.Series([code], dtype="object"), "city_mun", errors="coerce").iloc[0]
        return None if pd.isna(up) else str(up)
    except Exception:  # an unknown or malformed code: not in the store
        return None


def is_partitioned(path: str | os.PathLike[str]) -> bool:
    """True when the store at ``path`` is partitioned (cheap: reads the manifest only)."""
    from migdata.model.data import read_manifest

    return bool((read_manifest(path).get("partitioning") or {}).get("levels"))
