"""The local migration database: every stream and round of an LGU in one folder, linked.

The Calabarzon approach gathers local migration data in four streams (census and survey
extracts, CBMS, a survey of overseas Filipinos, a survey of children left behind). A database
folder holds one dataset store per stream and round, each with its own provenance and design,
and the links between them that the profiles declare:

```
DB/
  database.json        format, datasets (stream, round, folder, rows), link report
  cbms-2022/           a dataset store (Parquet tables + manifest.json), as `migdata import --out`
  cbms_rider-2026/
  of_survey-2026/
  clb_survey-2026/
```

Everything stays plain Parquet and JSON, readable without migdata. A one-dataset store keeps
working everywhere a database does (``migdata.load`` returns a ``HouseholdData`` for it).

**Links** are data in the profiles (``[[links]]``; see :class:`LinkSpec`): a survey table's
records point to the CBMS household (``hh_id``) and, for members, the line (``line_no``). The
link report counts, per link, the records linked, not linked (no id given), whose id is not
found, and conflicting (the CBMS roster and the survey disagree on sex, age beyond a tolerance,
area or overseas status); every conflict is a located problem with its MD code. Linking never
drops, adds or changes a record: a linked frame has exactly the survey's rows.

Example:
    >>> db = Database.create(tempfile.mkdtemp() + "/db")          # doctest: +SKIP
    >>> db.add(migdata.import_files(["cbms.dat"], "cbms_2022_hpq"))  # doctest: +SKIP
    >>> db.dataset("cbms").persons.shape                              # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from migdata._version import __version__
from migdata.errors import StoreError, UsageError
from migdata.fileio import atomic_write_text
from migdata.model.data import MANIFEST, HouseholdData, load as load_dataset, read_manifest
from migdata.model.frame import attach_households
from migdata.model.report import Problem
from migdata.model.spec import CONFLICTS, LinkSpec

DATABASE = "database.json"
DATABASE_FORMAT = "migdata-database"
#: The overseas-Filipino codes of ``of_status`` (the roster and the survey must agree on "abroad").
OF_CODES = ("ofw_contract", "ofw_no_contract", "embassy_staff", "student", "tourist", "other_of")
AREA_COLUMNS = ("psgc", "region", "province", "city_mun", "barangay", "urban_rural")


@dataclass
class LinkResult:
    """The outcome of one link: per record of the survey table, the position of its linked row
    in the target table (-1: none) and its status; the located problems; the counts."""

    spec: LinkSpec
    source: str                      # key of the dataset holding the table
    target: str | None               # key of the linked dataset (None: no such stream)
    position: np.ndarray             # row of the target table, -1 when not linked
    status: np.ndarray               # "linked", "not_linked", "not_found", "conflict" per record
    problems: list[Problem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"records": int(len(self.status))}
        for s in ("linked", "not_linked", "not_found", "conflict"):
            out[s] = int((self.status == s).sum())
        return out


def dataset_key(stream: str, round_: str | None) -> str:
    """The folder name of a stream and round (``cbms-2022``, ``lfs-2022-12``)."""
    text = f"{stream}-{round_}" if round_ else str(stream)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def is_database(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / DATABASE).is_file()


class Database:
    """A folder of datasets, one per stream and round, and the links between them.

    Example:
        >>> import tempfile
        >>> db = Database.create(tempfile.mkdtemp() + "/db")
        >>> db.datasets()
        []
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.manifest = self._read()
        self._cache: dict[str, HouseholdData] = {}
        self._links: list[LinkResult] | None = None

    # -- the folder ---------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> "Database":
        """An empty database at ``path`` (an empty or new folder; an existing database opens)."""
        p = Path(path)
        if is_database(p):
            return cls(p)
        if (p / MANIFEST).exists():
            raise UsageError("MD151", path=p)
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            held = sorted(q.name for q in p.iterdir()) if p.is_dir() else [p.name]
            raise StoreError("MD122", path=p, detail=f"no {DATABASE}",
                             files=", ".join(held[:5]) + (", ..." if len(held) > 5 else ""))
        p.mkdir(parents=True, exist_ok=True)
        _write_json(p / DATABASE, {"format": DATABASE_FORMAT, "format_version": 1, "datasets": {},
                                   "links": [], "migdata_version": __version__})
        return cls(p)

    def _read(self) -> dict[str, Any]:
        f = self.path / DATABASE
        if not f.is_file():
            raise StoreError("MD124", path=self.path)
        try:
            m = json.loads(f.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise StoreError("MD125", path=f, detail=str(exc)) from None
        if not isinstance(m, dict) or m.get("format") != DATABASE_FORMAT or not isinstance(m.get("datasets"), dict):
            raise StoreError("MD125", path=f, detail="not a migdata database manifest")
        return m

    def datasets(self) -> list[dict[str, Any]]:
        """One entry per dataset: key, stream, round, period, folder, rows per table, kind."""
        return [dict(v, key=k) for k, v in self.manifest["datasets"].items()]

    def add(self, data: HouseholdData, key: str | None = None) -> str:
        """Add ``data`` as a dataset, or replace the dataset of the same stream and round; the
        store is written atomically, then the database manifest (links recomputed). Returns the
        dataset's key."""
        prov = data.provenance
        stream = prov.stream or (prov.sources[0] if prov.sources else "data")
        round_ = prov.period or (prov.rounds[0] if prov.rounds else None)
        key = key or dataset_key(stream, round_)
        folder = self.path / key
        data.save(folder, force=(folder / MANIFEST).exists())
        entry = {"stream": stream, "round": round_, "folder": key, "dataset_id": prov.dataset_id,
                 "sources": prov.sources, "complete_count": prov.complete_count,
                 "design": prov.design.describe(),
                 "rows": {t: int(len(df)) for t, df in data.tables.items()},
                 "added_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        self.manifest["datasets"][key] = entry
        self._cache.pop(key, None)
        self._cache[key] = data
        self._links = None
        self.manifest["links"] = [dict(r.counts(), name=r.spec.label, source=r.source, target=r.target)
                                  for r in self.links()]
        self.manifest["migdata_version"] = __version__
        _write_json(self.path / DATABASE, self.manifest)
        return key

    # -- datasets -----------------------------------------------------------------------
    def keys(self, stream: str | None = None) -> list[str]:
        """Dataset keys, of one stream when given, latest round last."""
        items = [(k, v) for k, v in self.manifest["datasets"].items() if stream is None or v["stream"] == stream]
        return [k for k, _ in sorted(items, key=lambda kv: str(kv[1].get("round") or ""))]

    def dataset(self, stream_or_key: str, round: str | None = None) -> HouseholdData:
        """The dataset of a stream (its latest round unless ``round``), or by its key."""
        key = self._key(stream_or_key, round)
        if key not in self._cache:
            self._cache[key] = load_dataset(self.path / self.manifest["datasets"][key]["folder"])
        return self._cache[key]

    def _key(self, stream_or_key: str, round: str | None = None) -> str:
        ds = self.manifest["datasets"]
        if round is None and stream_or_key in ds:
            return stream_or_key
        keys = [k for k in self.keys(stream_or_key) if round is None or str(ds[k].get("round")) == str(round)]
        if not keys:
            have = ", ".join(f"{v['stream']} {v.get('round') or ''}".strip() for v in ds.values()) or "none"
            raise UsageError("MD156", value=f"{stream_or_key} {round or ''}".strip(), path=self.path, have=have)
        return keys[-1]

    def streams(self) -> list[str]:
        return sorted({v["stream"] for v in self.manifest["datasets"].values()})

    def pooled(self, stream: str, rounds: Iterable[str] | None = None) -> HouseholdData:
        """The rounds of ``stream`` (all, or ``rounds``) as one dataset, ``round`` a domain and
        strata round x stratum (:func:`migdata.model.rounds.pool`), e.g. the LFS months of a year."""
        from migdata.model.rounds import pool

        keys = self.keys(stream) if rounds is None else [self._key(stream, r) for r in rounds]
        if not keys:
            self._key(stream)  # names the streams the database has
        return pool([self.dataset(k) for k in keys])

    # -- links --------------------------------------------------------------------------
    def link_specs(self, key: str) -> list[LinkSpec]:
        """The links the profile of dataset ``key`` declares."""
        prov = self.dataset(key).provenance
        return [LinkSpec.from_dict(d) for d in prov.links]

    def links(self) -> list[LinkResult]:
        """Every declared link checked against the current datasets (cached until one changes)."""
        if self._links is None:
            self._links = [self._link(key, spec) for key in self.keys() for spec in self.link_specs(key)]
        return self._links

    def link_report(self) -> pd.DataFrame:
        """One row per link: records = linked (agreeing) + conflicting (linked, but the roster and
        the survey disagree) + not linked (no id given) + id not found; the link rate counts the
        linked and the conflicting records."""
        rows = []
        for r in self.links():
            c = r.counts()
            linked = c["linked"] + c["conflict"]  # a conflicting record is linked, and reported
            rows.append({"link": r.spec.label, "from": r.source, "to": r.target or f"{r.spec.to} (absent)", **c,
                         "link_rate": (100 * linked / c["records"]) if c["records"] else float("nan")})
        return pd.DataFrame(rows, columns=["link", "from", "to", "records", "linked", "not_linked", "not_found",
                                           "conflict", "link_rate"])

    def link_problems(self) -> pd.DataFrame:
        """Every located link problem (conflicts and ids not found)."""
        frames = [pd.DataFrame([p.to_dict() for p in r.problems]) for r in self.links() if r.problems]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _link(self, key: str, spec: LinkSpec) -> LinkResult:
        data = self.dataset(key)
        if spec.table not in data.tables:
            raise UsageError("MD150", detail=f"table {spec.table!r} is not in dataset {key}",
                             choices=", ".join(data.tables))
        src = data.tables[spec.table].reset_index(drop=True)
        n = len(src)
        try:
            target_key = self._key(spec.to, spec.round)
        except UsageError:
            return LinkResult(spec, key, None, np.full(n, -1), np.full(n, "not_linked", dtype=object))
        tgt = self.dataset(target_key)
        ttab = tgt.tables.get(spec.to_table)
        status = np.full(n, "not_linked", dtype=object)
        position = np.full(n, -1, dtype=np.int64)
        if ttab is None or not len(ttab):
            return LinkResult(spec, key, target_key, position, status)
        ttab = ttab.reset_index(drop=True)
        given = np.ones(n, dtype=bool)
        for tcol, scol in spec.on:
            given &= src[scol].notna().to_numpy() if scol in src.columns else np.zeros(n, dtype=bool)
        idx = np.flatnonzero(given)
        if len(idx):
            sk = [src[s].iloc[idx] for _, s in spec.on]
            sk = [s.astype("Int64").astype(str) if pd.api.types.is_float_dtype(s.dtype) else s.astype(str) for s in sk]
            # a survey names a few thousand CBMS records among millions: index only the target rows
            # whose first key (the household id) the survey names
            first = ttab[spec.on[0][0]]
            cand = np.flatnonzero(first.isin(pd.unique(sk[0])).to_numpy(dtype=bool))
            sub = ttab.iloc[cand]
            tk = pd.MultiIndex.from_arrays([sub[t].astype(str) for t, _ in spec.on]) if len(spec.on) > 1 \
                else pd.Index(sub[spec.on[0][0]].astype(str))
            look = pd.MultiIndex.from_arrays(sk) if len(sk) > 1 else pd.Index(sk[0])
            pos = tk.get_indexer(look) if tk.is_unique else _first_positions(tk, look)
            position[idx] = np.where(pos >= 0, cand[np.maximum(pos, 0)], -1)
            status[idx] = np.where(pos >= 0, "linked", "not_found")
        problems: list[Problem] = []
        rows = src["_source_row"].to_numpy() if "_source_row" in src.columns else np.arange(1, n + 1)
        for i in np.flatnonzero(status == "not_found"):
            problems.append(_problem("MD157", key, spec, int(rows[i]), ",".join(s for _, s in spec.on),
                                     "/".join(str(src[s].iloc[i]) for _, s in spec.on),
                                     target=target_key))
        linked = np.flatnonzero(position >= 0)
        if len(linked):
            bad = self._conflicts(spec, key, target_key, src, ttab, tgt, linked, position, rows, problems)
            status[bad] = "conflict"
        return LinkResult(spec, key, target_key, position, status, problems)

    def _conflicts(self, spec: LinkSpec, key: str, target_key: str, src: pd.DataFrame, ttab: pd.DataFrame,
                   tgt: HouseholdData, linked: np.ndarray, position: np.ndarray, rows: np.ndarray,
                   problems: list[Problem]) -> np.ndarray:
        """Rows (positions in ``src``) whose linked record disagrees on a compared attribute."""
        bad = np.zeros(len(src), dtype=bool)
        t = ttab.iloc[position[linked]].reset_index(drop=True)
        s = src.iloc[linked].reset_index(drop=True)
        for what in spec.compare:
            if what == "sex" and "sex" in s and "sex" in t:
                a, b = s["sex"].astype(object), t["sex"].astype(object)
                diff = (a.notna() & b.notna() & (a.astype(str) != b.astype(str))).to_numpy()
                vals = list(zip(a, b))
            elif what == "age" and "age" in s and "age" in t:
                a = pd.to_numeric(s["age"], errors="coerce")
                b = pd.to_numeric(t["age"], errors="coerce")
                diff = ((a - b).abs() > spec.age_tolerance).fillna(False).to_numpy(dtype=bool)
                vals = list(zip(a, b))
            elif what == "area":
                a, b = _area_of(s), _area_of(t if spec.to_table == "households" else
                                              attach_households(t, tgt.households, columns=AREA_COLUMNS))
                diff = (a.notna() & b.notna() & (a != b)).to_numpy()
                vals = list(zip(a, b))
            elif what == "of_status" and "of_status" in t:
                b = t["of_status"].astype(str).isin(OF_CODES)
                if spec.of_status == "abroad":
                    diff = (t["of_status"].notna() & ~b).to_numpy()
                    vals = [("overseas Filipino", v) for v in t["of_status"].astype(str)]
                elif "of_status" in s:
                    a = s["of_status"].astype(str).isin(OF_CODES)
                    diff = (s["of_status"].notna() & t["of_status"].notna() & (a != b)).to_numpy()
                    vals = list(zip(s["of_status"], t["of_status"]))
                else:
                    continue
            else:
                continue
            for j in np.flatnonzero(diff):
                i = linked[j]
                bad[i] = True
                ours, theirs = vals[j]
                problems.append(_problem(CONFLICTS[what], key, spec, int(rows[i]), what,
                                         f"{ours} (survey) vs {theirs} (CBMS)", target=target_key,
                                         tolerance=spec.age_tolerance))
        return bad

    # -- linked frames ------------------------------------------------------------------
    def frame(self, stream_or_key: str, unit: str = "person", columns: Iterable[str] | None = None,
              household_columns: Iterable[str] | None = None) -> pd.DataFrame:
        """The frame of ``unit`` of a dataset, with the columns of the CBMS household it is linked
        to (area, urban/rural, household variables) joined by its household link, through the one
        join (:func:`migdata.model.frame.attach_households`): same rows, in the same order; a
        record without a link keeps its own values and gets missing ones.

        The survey's own columns win, except area columns, which come from the linked CBMS
        household: CBMS is the frame the sample was drawn from (conflicts are in the link report).
        """
        key = self._key(stream_or_key)
        data = self.dataset(key)
        own = data.frame(unit, columns=None if columns is None else list(columns))
        table = data.provenance.units.get(unit, unit)
        spec = next((s for s in self.link_specs(key) if s.table == table), None)
        if spec is None:
            return own
        result = next(r for r in self.links() if r.source == key and r.spec == spec)
        if result.target is None:
            return own
        tdata = self.dataset(result.target)
        return link_households(own, result, tdata, tdata.frame("household"), household_columns)

    def __repr__(self) -> str:
        parts = ", ".join(f"{v['stream']} {v.get('round') or ''}".strip() for v in self.manifest["datasets"].values())
        return f"<Database {self.path}: {parts or 'empty'}>"


def link_households(own: pd.DataFrame, result: LinkResult, target: HouseholdData, households: pd.DataFrame,
                    columns: Iterable[str] | None = None) -> pd.DataFrame:
    """``own`` (the frame of a linked table, same rows) with the columns of the target household
    of each linked record joined on (see :meth:`Database.frame`). ``households`` is the target's
    household table, possibly with derived columns (the indicator layer passes its own)."""
    if result.spec.to_table == "households":
        hpos = np.where(result.position >= 0, result.position, -1)
        hh_ids = households["hh_id"].to_numpy()[np.maximum(hpos, 0)]
    else:
        tp = target.tables[result.spec.to_table].reset_index(drop=True)
        hh_of = tp["hh_id"].to_numpy()[np.maximum(result.position, 0)]
        hh_ids = hh_of
    key = pd.Series(np.where(result.position >= 0, hh_ids, None), dtype=object)
    probe = pd.DataFrame({"hh_id": key})
    cols = set(columns) | set(AREA_COLUMNS) if columns is not None else None
    joined = attach_households(probe, households, columns=cols)
    out = own.copy(deep=False)
    for c in joined.columns:
        if c == "hh_id":
            continue
        if c in AREA_COLUMNS or c not in out.columns:
            vals = joined[c]
            if c in AREA_COLUMNS and c in out.columns:  # unlinked records keep their own area
                vals = vals.astype(object).where(vals.notna(), out[c].astype(object))
                vals = vals.astype("category") if c != "urban_rural" else vals
            out[c] = vals.values
    return out


def _area_of(df: pd.DataFrame) -> pd.Series:
    """The finest area code each record gives (barangay, else city/municipality, else psgc)."""
    out = pd.Series(pd.NA, index=df.index, dtype=object)
    for c in ("psgc", "city_mun", "barangay"):
        if c in df.columns:
            v = df[c].astype(object)
            out = v.where(v.notna(), out)
    # compare at the coarsest level both sides know: city/municipality (first 7 digits)
    return out.map(lambda x: str(x)[:7] if isinstance(x, str) and len(x) == 10 else (pd.NA if x is pd.NA else str(x)))


def _first_positions(index: pd.Index, look: pd.Index) -> np.ndarray:
    """get_indexer for a target with repeated keys: the first position of each key."""
    first = pd.Series(np.arange(len(index)), index=index)
    first = first[~first.index.duplicated()]
    return first.index.get_indexer(look)


def _problem(code: str, key: str, spec: LinkSpec, row: int, column: str, value: Any, **fields: Any) -> Problem:
    from migdata.errors import render, rule

    msg = render(code, dataset=key, link=spec.label, row=row, column=column, value=value, **fields)
    # a link problem keeps the record: "kept" (linking never drops or changes a record)
    return Problem(code=code, table=spec.table, source_row=row, column=column, value=str(value),
                   rule=rule(code), message=msg, action="kept", record=key)


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=str))


def open_path(path: str | os.PathLike[str], lazy: bool = False, **options: Any) -> Any:
    """What ``migdata.load`` opens: a :class:`Database` for a database folder, else a dataset
    (``options`` as :func:`migdata.model.data.load`: ``tables``, ``verify``, ``area``). With
    ``lazy``, a partitioned store is opened without reading its tables
    (:class:`~migdata.model.partitions.Store`: ``migdata.compute`` and the report evaluate it
    partition by partition)."""
    if is_database(path):
        return Database(path)
    if lazy:
        from migdata.model.partitions import Store

        st = Store(path, verify=options.get("verify", True))
        if st.partitioned:
            return st
    return load_dataset(path, **options)


__all__ = ["Database", "LinkSpec", "LinkResult", "dataset_key", "is_database", "link_households", "open_path",
           "read_manifest"]
