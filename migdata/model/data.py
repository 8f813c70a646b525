"""``HouseholdData``: the tidy tables of one dataset, its codebook, provenance and import report,
and the dataset store (a folder of Parquet tables plus ``manifest.json``).

The store is the LGU's local "M&D database": it is written atomically (a temporary folder,
then a rename), every table carries its row count and SHA-256 in the manifest, and loading
gives back exactly what was saved (values, dtypes, categories), or a clear error naming the
file that is missing or does not match its checksum (the manifest included). A folder holding
a *different* dataset is replaced only with ``force=True``; a folder holding anything else (a
document, the input files) never is (:func:`check_target`). A save killed at any moment leaves
the old store or the new one, complete (see the swap below).

A table is one Parquet file, or, from ``PART_ROWS`` rows up, several *parts* in row order
(``persons-000.parquet``, ...): a Parquet file is encoded by one thread, so parts are what let
both cores of a small machine write (and hash) a 16-million-person table at once. The manifest
lists each table's parts with their row counts and checksums.

Example:
    >>> import pandas as pd, tempfile
    >>> hh = pd.DataFrame({"hh_id": ["a"], "weight": [1.0], "source": ["demo"]})
    >>> pp = pd.DataFrame({"hh_id": ["a"], "line_no": [1], "age": [30]})
    >>> d = HouseholdData({"households": hh, "persons": pp})
    >>> out = d.save(tempfile.mkdtemp() + "/store")
    >>> load(out).persons["age"].tolist()
    [30]
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from migdata._version import __version__
from migdata.errors import MigdataError, StoreError
from migdata.model.frame import unit_frame
from migdata.model.report import ImportReport
from migdata.model.spec import DesignSpec, Provenance

MANIFEST = "manifest.json"
STORE_FORMAT = "migdata-store"
STORE_FORMAT_VERSION = 3  # 3: the manifest carries its own checksum; 2: tables listed as parts;
#                           1: one "file" per table (1 and 2 still load)
PART_ROWS = 2_000_000  # rows per part, at most, for tables written in parts
WORKERS = 2  # threads that write and hash parts (Parquet and hashlib release the GIL)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class HouseholdData:
    """The tidy tables of one dataset (``households``, ``persons``, and optional others such as
    ``of_survey`` or ``clb_survey``), with the codebook of its sources (a DataFrame, one row per
    source variable), its :class:`~migdata.model.spec.Provenance` (sources, rounds, period, the
    survey design, PSGC release, ...) and the import report.

    Estimates start from two methods, so that every output uses the same join and design:
    :meth:`frame` (the analysis frame of a unit) and :meth:`design` (its survey design).

    Example:
        >>> import pandas as pd
        >>> hh = pd.DataFrame({"hh_id": ["a", "b"], "weight": [2.0, 3.0], "region": ["0400000000"] * 2})
        >>> pp = pd.DataFrame({"hh_id": ["a", "b", "b"], "line_no": [1, 1, 2], "age": [30, 40, 5]})
        >>> d = HouseholdData({"households": hh, "persons": pp})
        >>> float(d.design("person").total("age")["estimate"].iloc[0])
        195.0
    """

    tables: dict[str, pd.DataFrame]
    codebook: pd.DataFrame | None = None
    provenance: Provenance = field(default_factory=Provenance)
    report: ImportReport = field(default_factory=ImportReport)

    def __post_init__(self) -> None:
        if not isinstance(self.provenance, Provenance):  # a plain dict (older callers, tests)
            self.provenance = _typed(self.provenance, self.tables.get("persons"))

    @property
    def households(self) -> pd.DataFrame:
        """The households table (empty, with the schema's columns, for a stand-alone survey)."""
        return self.tables.get("households", _empty("households"))

    @property
    def persons(self) -> pd.DataFrame:
        """The persons table (empty, with the schema's columns, for a stand-alone survey)."""
        return self.tables.get("persons", _empty("persons"))

    @property
    def dataset_id(self) -> str:
        return self.provenance.dataset_id

    @property
    def spec(self) -> DesignSpec:
        """The survey design specification (from the profile; stored in the manifest)."""
        return self.provenance.design

    @property
    def complete_count(self) -> bool:
        """True for censuses (CBMS, CPH): weight 1 and no sampling error."""
        return self.provenance.complete_count

    def frame(self, unit: str = "person", columns: list[str] | None = None) -> pd.DataFrame:
        """The analysis frame of ``unit`` (``person``, ``household`` or a survey table name):
        the unit table with the household columns it needs joined on, rows in table order.

        This is the one join of the product (rules in :mod:`migdata.model.frame`); ``columns``
        limits the columns (the design's are always kept).

        Example:
            >>> import pandas as pd
            >>> d = HouseholdData({"households": pd.DataFrame({"hh_id": ["a"], "province": ["0403400000"]}),
            ...                    "persons": pd.DataFrame({"hh_id": ["a", "a"], "line_no": [1, 2]})})
            >>> d.frame("person")["province"].astype(str).tolist()
            ['0403400000', '0403400000']
        """
        return unit_frame(self.tables, unit, self.spec, columns, self.provenance.units)

    def design(self, unit: str = "person", frame: pd.DataFrame | None = None, policy: Any = None,
               **changes: Any) -> Any:
        """The survey design of ``unit``: a :class:`migdata.survey.Design` built once from the
        dataset's :class:`~migdata.model.spec.DesignSpec` (a complete count for censuses).

        ``frame`` is a frame of the same rows with more columns (e.g. derived ones), default
        :meth:`frame`; ``policy`` is the reliability policy of the flags (default PSA's proposed
        one); ``changes`` override the spec (e.g. ``lonely_psu="adjust"``). Domain
        estimates are made on this design with ``by=``, never on a subset of it.

        Example:
            >>> import pandas as pd
            >>> hh = pd.DataFrame({"hh_id": ["a", "b"], "weight": [1.0, 1.0]})
            >>> d = HouseholdData({"households": hh}, provenance={"design": {"complete_count": True}})
            >>> d.design("household").describe()
            'complete count'
        """
        # The dataset hands its frame and spec to the estimation engine: the one place where
        # the store reaches forward to ``survey`` (imported here, not at module level).
        from migdata.survey.design import Design

        spec = self.spec.replace(**changes) if changes else self.spec
        df = self.frame(unit) if frame is None else frame
        return Design.from_spec(df, spec, unit=unit, policy=policy)

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}: {len(v):,} rows" for k, v in self.tables.items())
        return f"<HouseholdData {self.provenance.label}; {parts}>"

    # -- store -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], force: bool = False,
             partition_by: str | None = None) -> Path:
        """Write the dataset store to folder ``path`` atomically; returns the folder.

        ``partition_by="province"`` (or ``"region"``) writes a store partitioned by area
        (:mod:`migdata.model.partitions`), which a country-sized dataset needs."""
        if partition_by:
            from migdata.model import partitions

            levels = partitions.LEVELS[:partitions.LEVELS.index(partition_by) + 1]
            return partitions.save_partitioned(self, path, force=force, levels=levels)
        target = Path(path)
        _check_target(target, self.dataset_id, force)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _new_temp(target)
        try:
            jobs = [(name, fname, part) for name, df in self.tables.items()
                    for fname, part in _parts(name, df)]
            if self.codebook is not None:
                jobs.append(("_codebook", "codebook.parquet", self.codebook.astype("string")))
            # largest parts first, so that neither thread is left with a big one at the end
            order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][2]))
            with ThreadPoolExecutor(WORKERS) as pool:
                futures = {i: pool.submit(_write_part, tmp / jobs[i][1], jobs[i][2]) for i in order}
                written = [futures[i].result() for i in range(len(jobs))]
            tables_meta: dict[str, dict[str, Any]] = {}
            for (name, fname, part), digest in zip(jobs, written):
                meta = tables_meta.setdefault(name, {"rows": 0, "parts": []})
                meta["rows"] += int(len(part))
                meta["parts"].append({"file": fname, "rows": int(len(part)), "sha256": digest})
                if name != "_codebook":
                    meta["columns"] = [str(c) for c in part.columns]
            manifest = {
                "format": STORE_FORMAT,
                "format_version": STORE_FORMAT_VERSION,
                "dataset_id": self.dataset_id,
                "migdata_version": __version__,
                "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "sources": self.provenance.sources,
                "rounds": self.provenance.rounds,
                "period": self.provenance.period,
                "psgc_release": self.provenance.psgc_release,
                "tables": tables_meta,
                "provenance": self.provenance.to_dict(),
                "import_report": self.report.to_dict(),
            }
            write_manifest(tmp, manifest)
            _swap_in(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


def _parts(name: str, df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The files of table ``name``: one below ``PART_ROWS`` rows, else an even number of parts
    of equal size (so that the writer threads finish together)."""
    n = len(df)
    if n < PART_ROWS:
        return [(f"{name}.parquet", df)]
    k = WORKERS * -(-n // (WORKERS * PART_ROWS))
    step = -(-n // k)
    return [(f"{name}-{i:03d}.parquet", df.iloc[i * step:(i + 1) * step]) for i in range(k)]


def _write_part(path: Path, df: pd.DataFrame) -> str:
    # Dictionary pages only where values repeat (not ids, row numbers or weights: Parquet would
    # build a dictionary and abandon it), and min/max statistics only on the id and area columns
    # that readers filter on (``load_area``): a third less work for the same file.
    # Row numbers, which mostly rise by one, are stored as deltas (DELTA_BINARY_PACKED, which
    # DuckDB, Spark and Arrow read): 16 M of them take 0.1 MB instead of 16 MB and a quarter
    # of the time to write and read.
    names = [str(c) for c in df.columns]
    dictionary = [c for c, t in zip(names, df.dtypes)
                  if c not in _NO_DICTIONARY and not pd.api.types.is_float_dtype(t)]
    deltas = {c: "DELTA_BINARY_PACKED" for c, t in zip(names, df.dtypes)
              if c in _DELTAS and pd.api.types.is_integer_dtype(t)}
    df.to_parquet(path, engine="pyarrow", compression="zstd", index=False,
                  use_dictionary=dictionary, write_statistics=[c for c in names if c in _FILTERED],
                  column_encoding=deltas or None)
    return _sha256(path)


_NO_DICTIONARY = {"hh_id", "_source_row"}
_DELTAS = {"_source_row"}
_FILTERED = {"hh_id", "psgc", "region", "province", "city_mun", "barangay"}


def table_parts(folder: Path, name: str, meta: dict[str, Any], verify: bool = True) -> list[Path]:
    """The Parquet files of table ``name`` in a store, in row order, after checking that each
    exists and (``verify``) matches its SHA-256; a :class:`StoreError` names the first that
    does not. Reads version 1 manifests (one ``file`` per table) too."""
    parts = meta.get("parts") or [{"file": meta["file"], "sha256": meta["sha256"]}]
    paths = [folder / p["file"] for p in parts]
    for path in paths:
        if not path.exists():
            raise StoreError("MD126", path=path, table=name)
    if verify:
        with ThreadPoolExecutor(WORKERS) as pool:
            digests = list(pool.map(_sha256, paths))
        for path, part, digest in zip(paths, parts, digests):
            if digest != part["sha256"]:
                raise StoreError("MD127", path=path, table=name)
    return paths


def _empty(table: str) -> pd.DataFrame:
    """An empty tidy table with the schema's columns and dtypes."""
    from migdata.model import codes
    from migdata.model.schema import BOOL, FLOAT, INT, STRING, columns

    kinds = {"string": STRING, "int": INT, "float": FLOAT, "bool": BOOL}
    return pd.DataFrame({name: pd.Series([], dtype=codes.dtype(spec["codes"]) if spec["dtype"] == "category"
                                         else kinds[spec["dtype"]])
                         for name, spec in columns(table).items()})


def check_target(target: str | os.PathLike[str], dataset_id: str | None = None, force: bool = False,
                 inputs: list[str | os.PathLike[str]] | tuple = ()) -> None:
    """Raise a :class:`StoreError` unless a dataset may be saved to folder ``target``.

    Allowed: a new or empty folder; the same dataset again (``dataset_id``); with ``force``,
    another migdata dataset. Never allowed, whatever ``force`` says: a file (MD120), a folder
    that is not a migdata dataset (MD122), a dataset folder that also holds other files
    (MD129), a folder that holds one of the ``inputs`` being imported (MD130). Replacing a
    folder deletes what it holds, so only files the dataset's own manifest lists may be in it.
    The import command calls this before reading, so a refusal costs no import time.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "thesis.docx").write_text("mine")
        >>> check_target(d, force=True)
        Traceback (most recent call last):
        ...
        migdata.errors.StoreError: [MD122] ...
    """
    target = Path(target)
    _recover(target)
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir():
        raise StoreError("MD120", path=target)
    entries = sorted(p.name for p in target.iterdir())
    if not entries:
        return
    try:
        manifest = read_manifest(target)
    except StoreError as exc:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        reason = "no manifest.json" if exc.code == "MD124" else "its manifest.json is damaged or edited"
        raise StoreError("MD122", path=target, files=shown, detail=reason) from None
    extra = sorted(set(entries) - _store_files(manifest))
    if extra:
        raise StoreError("MD129", path=target, files=", ".join(extra[:5]) + (", ..." if len(extra) > 5 else ""))
    root = target.resolve()
    for f in inputs:
        if root in Path(f).resolve().parents:
            raise StoreError("MD130", path=target, file=f)
    if manifest.get("dataset_id") == dataset_id or force:
        return
    raise StoreError("MD121", path=target)


def _check_target(target: Path, dataset_id: str, force: bool) -> None:
    """:func:`check_target` at save time, which also removes stale hidden folders of ``target``."""
    check_target(target, dataset_id, force)
    _clean_stale(target)


def _store_files(manifest: dict[str, Any]) -> set[str]:
    """The names of the files a (checked) manifest says its store holds."""
    names = {MANIFEST}
    for meta in manifest["tables"].values():
        parts = meta.get("parts") or [meta]
        names.update(Path(p["file"]).parts[0] for p in parts)  # a partitioned table: its folder
    if (manifest.get("partitioning") or {}).get("levels"):
        names.add("_cache")  # the partitions' kept cell sums (migdata.model.partitions.CACHE)
    return names


# -- the swap of a new store into place ---------------------------------------------------------
#
# A store is written whole into a hidden sibling folder ``.<name>.tmp-<pid>-<random>`` and then
# swapped in. Where the operating system can exchange two folders in one step (Linux
# ``renameat2(RENAME_EXCHANGE)``, macOS ``renamex_np(RENAME_SWAP)``; Python has no wrapper, so
# ctypes calls the C library) there is no moment without a store. Elsewhere the old store is
# renamed aside to ``.<name>.old-<pid>-<random>`` first; a process killed between the two renames
# leaves the new store complete in its ``.tmp-`` folder, and the next open or save of ``<name>``
# moves it into place (:func:`_recover`). Hidden folders of processes that no longer run are
# removed at the next save (:func:`_clean_stale`), with the working folders of a streaming
# import (``.<name>.work-<pid>-<random>``, :func:`new_work_folder`). The process id in the name
# tells a folder in use from one left by a killed import.

_RENAME_EXCHANGE = 2  # linux/fs.h
_RENAME_SWAP = 2  # macOS sys/stdio.h
STALE_AFTER = 2 * 86400  # seconds: a hidden folder this old is stale whatever its process id says


def _exchange(a: Path, b: Path) -> bool:
    """Exchange folders ``a`` and ``b`` atomically; False where the system cannot."""
    import ctypes
    import sys

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
            fn = libc.renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            rc = fn(-100, os.fsencode(a), -100, os.fsencode(b), _RENAME_EXCHANGE)  # -100: AT_FDCWD
        elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
            fn = libc.renamex_np
            fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
            rc = fn(os.fsencode(a), os.fsencode(b), _RENAME_SWAP)
        else:
            return False
    except (OSError, AttributeError):
        return False
    return rc == 0  # EINVAL/ENOSYS (a file system without the call): the caller falls back


def _hidden_folder(target: Path, kind: str) -> Path:
    """A new hidden folder ``.<name>.<kind>-<pid>-<random>`` beside ``target`` (see :func:`_hidden`)."""
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.{kind}-{os.getpid()}-", dir=target.parent))


def _new_temp(target: Path) -> Path:
    """A new hidden folder beside ``target`` for a store being written."""
    return _hidden_folder(target, "tmp")


def new_work_folder(target: Path) -> Path:
    """A new hidden folder beside ``target`` for an import's working files (a streaming import's
    key files). The import removes it; one left by a killed import is removed at the next save
    of ``target``, as the store folders of dead processes are (:func:`_clean_stale`)."""
    return _hidden_folder(target, "work")


def _swap_in(tmp: Path, target: Path) -> None:
    """Put the complete store ``tmp`` at ``target``; the store that was there is removed after."""
    if not target.exists():
        os.replace(tmp, target)
        return
    if _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old store
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)  # an error here (not a kill): put the old store back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _hidden(target: Path) -> list[tuple[Path, str, int | None]]:
    """Hidden folders of ``target``: (path, "tmp", "old" or "work", process id or None)."""
    out = []
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return out
    for p in siblings:
        for kind in ("tmp", "old", "work"):
            prefix = f".{target.name}.{kind}-"
            if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink():
                pid = p.name[len(prefix):].split("-")[0]
                out.append((p, kind, int(pid) if pid.isdigit() else None))
    return out


def _stale(path: Path, pid: int | None) -> bool:
    """True when the process that made a hidden folder no longer runs (or it is very old)."""
    import time

    try:
        if time.time() - path.stat().st_mtime > STALE_AFTER:
            return True
    except OSError:
        return False
    if pid is None or os.name != "posix":  # a folder of an older migdata, or no cheap liveness test
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _complete(folder: Path) -> bool:
    try:
        read_manifest(folder, recover=False)
        return True
    except StoreError:
        return False


def _recover(target: Path) -> bool:
    """When ``target`` is missing but a killed save left a complete store beside it, move that
    store into place (the new one if it is complete, else the old one). True if one was moved."""
    if target.exists() or target.is_symlink():
        return False
    found = [(p, kind) for p, kind, pid in _hidden(target)
             if kind != "work" and _stale(p, pid) and _complete(p)]
    # the new store (a complete .tmp- folder) wins over the old one; then the newest
    found.sort(key=lambda pk: (pk[1] != "tmp", -pk[0].stat().st_mtime))
    for p, _ in found:
        try:
            os.replace(p, target)
            return True
        except OSError:
            if target.exists():  # another process recovered it first
                return True
    return False


def _clean_stale(target: Path) -> None:
    """Remove the hidden work folders of ``target`` left by processes that no longer run."""
    for p, _, pid in _hidden(target):
        if _stale(p, pid):
            shutil.rmtree(p, ignore_errors=True)


# -- the manifest --------------------------------------------------------------------------------
#
# The manifest carries the SHA-256 of every table part, and its own SHA-256 in the field
# ``manifest_sha256``: the digest of its canonical JSON form (keys sorted, no whitespace) without
# that field. Why inside rather than in a sidecar file: the manifest and its checksum cannot be
# separated when a folder is copied or backed up in part, a stale sidecar cannot pass for a good
# one, and re-indenting the file (which changes no value) does not break it, while any change of
# a value (a source name, a row count, a part's checksum) does. A checksum detects accidents and
# hand edits, not a forger, who could recompute it; stores of format version 1 and 2 carry none
# (``migdata validate`` says so), and a manifest that carries one is checked whatever its version.

MANIFEST_DIGEST = "manifest_sha256"
_HEX = set("0123456789abcdef")


def _manifest_digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != MANIFEST_DIGEST}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canon.encode("ascii")).hexdigest()


def write_manifest(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` into ``folder`` with its own checksum; returns what was written."""
    plain = json.loads(json.dumps(manifest, default=str))  # the values exactly as read back
    plain[MANIFEST_DIGEST] = _manifest_digest(plain)
    (folder / MANIFEST).write_text(json.dumps(plain, indent=2), encoding="utf-8")
    return plain


def _manifest_problem(m: Any) -> str | None:
    """What is wrong with the shape of a parsed manifest, or None."""
    if not isinstance(m, dict):
        return f"it holds a JSON {type(m).__name__.replace('NoneType', 'null')}, not an object"
    if m.get("format") != STORE_FORMAT:
        return "not a migdata dataset manifest"
    version = m.get("format_version", 1)
    if not _count(version) or version < 1:
        return f"format_version {version!r} is not a version number"
    if version > STORE_FORMAT_VERSION:
        return (f"it was written by a newer migdata (store format {version}; this version reads "
                f"up to {STORE_FORMAT_VERSION}): update migdata")
    tables = m.get("tables")
    if not isinstance(tables, dict):
        return "it has no 'tables' object"
    if not any(isinstance(k, str) and not k.startswith("_") for k in tables):
        return "it lists no tables"
    for name, meta in tables.items():
        where = f"table {name!r}"
        if not isinstance(meta, dict):
            return f"{where} is not an object"
        if not _count(meta.get("rows")):
            return f"{where} has no row count"
        parts = meta.get("parts") if "parts" in meta else [meta]
        if not isinstance(parts, list) or not parts:
            return f"{where} lists no files"
        for part in parts:
            if not isinstance(part, dict):
                return f"{where}: a part is not an object"
            f, digest = part.get("file"), part.get("sha256")
            if not _inside(f, partitioned=bool((m.get("partitioning") or {}).get("levels"))):
                return f"{where}: {f!r} is not the name of a file in the dataset folder"
            if f == MANIFEST:
                return f"{where}: a table cannot be stored in {MANIFEST}"
            if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
                return f"{where}: the file {f} has no SHA-256 checksum"
            if "parts" in meta and not _count(part.get("rows")):
                return f"{where}: the file {f} has no row count"
        if "parts" in meta and sum(p["rows"] for p in parts) != meta["rows"]:
            return f"{where}: the row counts of its files do not add up to {meta['rows']}"
    for key in ("provenance", "import_report"):
        if key in m and not isinstance(m[key], dict):
            return f"'{key}' is not an object"
    return None


def _inside(f: Any, partitioned: bool = False) -> bool:
    """A file name of the store: a plain name in its folder, or for a part of a partitioned store
    (:mod:`migdata.model.partitions`) a relative path down its table's partition folders; never
    hidden, never ``..``, never absolute."""
    if not isinstance(f, str) or not f or "\\" in f:
        return False
    parts = Path(f).parts
    if Path(f).is_absolute() or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return False
    return len(parts) == 1 or (partitioned and len(parts) > 1 and "/".join(parts) == f)


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def read_manifest(path: str | os.PathLike[str], recover: bool = True) -> dict[str, Any]:
    """The manifest of a store, checked, or a :class:`StoreError` that says what is wrong:
    MD123 no such folder, MD124 no manifest, MD125 a manifest that cannot be read or has the
    wrong shape (not an object, no tables, a file without its checksum, ...), MD131 a manifest
    changed after saving. ``recover``: first finish a swap that a killed save left undone."""
    import time

    folder = Path(path)
    for _ in range(20):  # a save in another process may be between its two renames right now
        if folder.exists() or not recover or _recover(folder) or not _swapping(folder):
            break
        time.sleep(0.1)
    if not folder.exists():
        raise StoreError("MD123", path=folder)
    mpath = folder / MANIFEST
    if not mpath.is_file():
        raise StoreError("MD124", path=folder)
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise StoreError("MD125", path=mpath, detail=str(exc) or type(exc).__name__) from None
    problem = _manifest_problem(manifest)
    if problem:
        raise StoreError("MD125", path=mpath, detail=problem)
    checked = MANIFEST_DIGEST in manifest or manifest.get("format_version", 1) >= 3
    if checked and manifest.get(MANIFEST_DIGEST) != _manifest_digest(manifest):
        raise StoreError("MD131", path=mpath)
    return manifest


def _swapping(target: Path) -> bool:
    """True while a running process holds a complete new store for ``target`` (mid-swap)."""
    return any(kind == "tmp" and not _stale(p, pid) and pid != os.getpid() and _complete(p)
               for p, kind, pid in _hidden(target))


def load(path: str | os.PathLike[str], tables: list[str] | None = None,
         verify: bool = True, area: str | None = None) -> HouseholdData:
    """Load a dataset store written by :meth:`HouseholdData.save`.

    ``tables`` limits which tables are read (all by default); ``verify`` checks every file's
    SHA-256 against the manifest (a mismatch or a missing file is a :class:`StoreError`).
    ``area`` (a PSGC code) reads only the partitions holding that area of a partitioned store
    (:mod:`migdata.model.partitions`); an unpartitioned store is read whole.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    if (manifest.get("partitioning") or {}).get("levels") or area is not None:
        from migdata.model.partitions import Store

        return Store(folder, verify=verify).read(area=area, tables=tables)
    out: dict[str, pd.DataFrame] = {}
    codebook = None
    for name, meta in manifest["tables"].items():
        if tables is not None and name not in tables and name != "_codebook":
            continue
        paths = table_parts(folder, name, meta, verify)
        try:
            df = pd.read_parquet(paths, engine="pyarrow")
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise StoreError("MD128", path=paths[0], table=name, detail=str(exc)) from None
        if len(df) != meta["rows"]:
            raise StoreError("MD127", path=paths[0], table=name)
        if name == "_codebook":
            codebook = df
        else:
            out[name] = df
    try:
        report = ImportReport.from_dict(manifest.get("import_report", {}))
        provenance = stored_provenance(manifest, out.get("persons"))
    except MigdataError:
        raise
    except Exception as exc:  # a value of the wrong kind in a manifest of an older format
        raise StoreError("MD125", path=folder / MANIFEST,
                         detail=f"its provenance or import report is damaged ({type(exc).__name__}: {exc})") from None
    return HouseholdData(out, codebook=codebook, provenance=provenance, report=report)


def stored_provenance(manifest: dict[str, Any], persons: pd.DataFrame | None = None) -> Provenance:
    """The typed provenance of a manifest."""
    return _typed(dict(manifest.get("provenance") or {}), persons)


def _typed(raw: dict[str, Any], persons: pd.DataFrame | None) -> Provenance:
    """A provenance dict as :class:`Provenance`. Stores written before typed design specs did not
    say whether persons carry their own weight: they did exactly when the persons table has one."""
    prov = Provenance.from_dict(raw)
    legacy = not isinstance(raw.get("design"), dict) or "person_weights" not in raw["design"]
    if legacy and persons is not None and "weight" in persons.columns and persons["weight"].notna().any():
        prov.design = prov.design.replace(person_weights="weight")
    return prov
