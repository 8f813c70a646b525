"""``HouseholdData``: the tidy tables of one dataset, its codebook, provenance and import report,
and the dataset store (a folder of Parquet tables plus ``manifest.json``).

The store is the LGU's local "M&D database": it is written atomically (a temporary folder,
then a rename), every table carries its row count and SHA-256 in the manifest, and loading
gives back exactly what was saved (values, dtypes, categories), or a clear error naming the
file that is missing or does not match its checksum. A folder holding a *different* dataset
is never overwritten unless ``force=True``.

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

from migdata import __version__
from migdata.errors import StoreError
from migdata.model.frame import unit_frame
from migdata.model.report import ImportReport
from migdata.model.spec import DesignSpec, Provenance

MANIFEST = "manifest.json"
STORE_FORMAT = "migdata-store"
STORE_FORMAT_VERSION = 2  # 2: tables listed as parts; version 1 stores (one "file") still load
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
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
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
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
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
    names = [str(c) for c in df.columns]
    dictionary = [c for c, t in zip(names, df.dtypes)
                  if c not in _NO_DICTIONARY and not pd.api.types.is_float_dtype(t)]
    df.to_parquet(path, engine="pyarrow", compression="zstd", index=False,
                  use_dictionary=dictionary, write_statistics=[c for c in names if c in _FILTERED])
    return _sha256(path)


_NO_DICTIONARY = {"hh_id", "_source_row"}
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
    from migdata.model.validate import BOOL, FLOAT, INT, STRING, columns

    kinds = {"string": STRING, "int": INT, "float": FLOAT, "bool": BOOL}
    return pd.DataFrame({name: pd.Series([], dtype=codes.dtype(spec["codes"]) if spec["dtype"] == "category"
                                         else kinds[spec["dtype"]])
                         for name, spec in columns(table).items()})


def _check_target(target: Path, dataset_id: str, force: bool) -> None:
    if not target.exists() or force:
        return
    if not target.is_dir():
        raise StoreError("MD120", path=target)
    manifest = target / MANIFEST
    if manifest.exists():
        try:
            other = json.loads(manifest.read_text(encoding="utf-8")).get("dataset_id")
        except (OSError, ValueError):
            other = None
        if other == dataset_id:
            return
        raise StoreError("MD121", path=target)
    if any(target.iterdir()):
        raise StoreError("MD122", path=target)


def _swap_in(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing target is moved aside first and removed after."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a store, or a StoreError that says what is wrong."""
    folder = Path(path)
    if not folder.exists():
        raise StoreError("MD123", path=folder)
    mpath = folder / MANIFEST
    if not mpath.exists():
        raise StoreError("MD124", path=folder)
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise StoreError("MD125", path=mpath, detail=str(exc)) from None
    if manifest.get("format") != STORE_FORMAT:
        raise StoreError("MD125", path=mpath, detail="not a migdata dataset manifest")
    return manifest


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
    return HouseholdData(out, codebook=codebook, provenance=stored_provenance(manifest, out.get("persons")),
                         report=ImportReport.from_dict(manifest.get("import_report", {})))


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
