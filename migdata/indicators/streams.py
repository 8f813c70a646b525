"""Indicators across the streams of a local migration database.

Each catalogue entry lists the sources that can support it (``sources``: cbms, lfs, of_survey,
clb_survey, ...). Over a :class:`~migdata.model.database.Database`, an indicator is computed on
every dataset whose stream is one of its sources and that has its columns, with that dataset's
own unit, design and reliability: the CBMS counts as a complete count, the survey estimates
with their SE. When two streams measure the same thing (OFWs from CBMS and from an LFS round)
both rows are in the table, side by side, each with its own precision; the ``stream``,
``period`` and ``design`` columns say where each row comes from.

A survey linked to CBMS (declared ``[[links]]`` in its profile) is estimated on its linked
frame: its own records, with the area and the household attributes (migratory status, income,
...) of the CBMS household each record is linked to, joined by the one join of the model
(:meth:`migdata.model.database.Database.frame`). Linking never adds or drops records.

Example:
    >>> t = compute_database(migdata.load("db"), level="province", by=["sex"])  # doctest: +SKIP
    >>> sorted(set(t["stream"]))                                                  # doctest: +SKIP
    ['cbms', 'clb_survey', 'of_survey']
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from migdata.indicators import derive
from migdata.indicators.catalogue import catalogue
from migdata.indicators.evaluate import availability, compute
from migdata.model.data import HouseholdData
from migdata.model.database import Database, link_households
from migdata.progress import as_progress

#: Catalogue source names each stream answers to (a stream is also a source of its own name).
STREAM_SOURCES: dict[str, set[str]] = {
    "cbms": {"cbms"}, "cbms_rider": {"cbms_rider"}, "of_survey": {"of_survey"},
    "clb_survey": {"clb_survey"}, "lfs": {"lfs", "sof"}, "sample_survey": {"lfs", "sof"},
    "census": {"cph"}, "cph": {"cph"},
}
#: Household attributes of the linked CBMS household a survey record carries.
LINKED_HOUSEHOLD_COLUMNS = ("hh_migratory_status", "hh_n_of", "hh_n_ofw", "head_sex", "hh_size",
                            "per_capita_income", "below_poverty", "urban_rural")


def stream_ids(stream: str, ids: Sequence[str] | None = None) -> list[str]:
    """The catalogue entries a stream can support by their declared sources."""
    names = STREAM_SOURCES.get(stream, {stream})
    return [i for i, ind in catalogue().items()
            if (ids is None or i in ids) and names & set(ind.sources)]


def linked_dataset(db: Database, key: str) -> HouseholdData:
    """Dataset ``key`` with its records' linked CBMS household attributes joined on (a view:
    the same rows, provenance and design)."""
    data = db.dataset(key)
    links = [r for r in db.links() if r.source == key and r.target is not None]
    units = {"person": "persons", "household": "households", **data.provenance.units}
    tables = dict(data.tables)
    for r in links:
        table = r.spec.table
        if table not in (units["person"], units["household"]):
            continue
        target = db.dataset(r.target)
        cache = db.__dict__.setdefault("_household_units", {})
        if r.target not in cache:  # derived once per target dataset, shared by every linked stream
            cache[r.target] = derive.units(target, persons=False)["household"]
        hh_units = cache[r.target]
        own = tables[table].reset_index(drop=True)
        tables[table] = link_households(own, r, target, hh_units, columns=LINKED_HOUSEHOLD_COLUMNS)
    return HouseholdData(tables, codebook=data.codebook, provenance=data.provenance, report=data.report)


def compute_database(db: Database, ids: Sequence[str] | str | None = None, level: str = "city",
                     by: Sequence[str] | str | None = ("sex", "age_group"), age_scheme: Any = "broad",
                     policy: Any = None, streams: Sequence[str] | None = None, progress: Any = None) -> pd.DataFrame:
    """The raw indicator table of every stream of ``db`` (see the module docstring): the rows of
    :func:`migdata.indicators.compute` of each dataset, with ``stream`` and ``design`` columns.

    ``attrs["not_computable"]`` lists, per indicator, why no stream could give it.
    """
    if isinstance(ids, str):
        ids = [i.strip() for i in ids.split(",") if i.strip()]
    if isinstance(by, str):
        by = [b.strip() for b in by.split(",") if b.strip()]
    by = list(by or [])
    parts, done, reasons = [], set(), {}
    for key in db.keys():
        entry = db.manifest["datasets"][key]
        stream = entry["stream"]
        if streams is not None and stream not in streams:
            continue
        wanted = stream_ids(stream, ids)
        if not wanted:
            continue
        data = linked_dataset(db, key)
        ok = availability(data, wanted)
        for _, r in ok[ok["status"] != "computable"].iterrows():
            reasons.setdefault(r["indicator_id"], []).append(f"{stream}: {r['reason']}")
        wanted = list(ok.loc[ok["status"] == "computable", "indicator_id"])
        if not wanted:
            continue
        usable_by = [b for b in by if b in _columns(data)]
        if progress is not None:
            as_progress(progress)(f"{stream} {entry.get('round') or ''}: {len(wanted)} indicator(s)")
        t = compute(data, ids=wanted, level=level, by=usable_by, age_scheme=age_scheme, policy=policy,
                    progress=progress)
        for b in by:
            if b not in t.columns:
                t[b] = _constant("Total", len(t))
        nc = t.attrs.get("not_computable")
        if isinstance(nc, pd.DataFrame):
            for _, r in nc.iterrows():
                reasons.setdefault(r["indicator_id"], []).append(f"{stream}: {r['reason']}")
        t.insert(0, "stream", _constant(stream, len(t)))
        t["design"] = _constant(data.spec.describe(), len(t))
        done |= set(t["indicator_id"].astype(str))
        t.attrs = {}
        parts.append(t)
    from migdata.indicators.evaluate import OUT_COLUMNS, VALUE_COLUMNS, HIDDEN_COLUMNS

    cols = ["stream", *OUT_COLUMNS, *by, *VALUE_COLUMNS, "design"]
    out = _concat(parts, cols + [c for c in HIDDEN_COLUMNS if any(c in p.columns for p in parts)]) \
        if parts else pd.DataFrame(columns=cols)
    cat = catalogue()
    want = ids if ids is not None else list(cat)
    nc = pd.DataFrame([(i, cat[i].name, "not computable", "; ".join(reasons.get(i, [])) or
                        f"no stream of this database is a source of it ({', '.join(cat[i].sources)})")
                       for i in want if i in cat and i not in done],
                      columns=["indicator_id", "name", "status", "reason"])
    out.attrs.update({"not_computable": nc, "by": by, "notes": [], "complete_count": False,
                      "streams": sorted({p["stream"].iloc[0] for p in parts}) if parts else []})
    return out


def _constant(value: str, n: int) -> pd.Categorical:
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[value])


def _concat(parts: list[pd.DataFrame], cols: list[str]) -> pd.DataFrame:
    """The tables of the streams one under the other; text columns stay Categoricals (their
    categories united, not millions of strings converted)."""
    out = {}
    for c in cols:
        series = [p[c] if c in p.columns else pd.Series(np.full(len(p), np.nan)) for p in parts]
        if all(isinstance(s.dtype, pd.CategoricalDtype) for s in series):
            same = all(s.dtype == series[0].dtype for s in series)  # e.g. the ordered area levels
            out[c] = (pd.concat(series, ignore_index=True).array if same
                      else union_categoricals([s.array for s in series], ignore_order=True))
        else:
            out[c] = pd.concat([s.reset_index(drop=True) for s in series], ignore_index=True).to_numpy()
    return pd.DataFrame(out)


def _columns(data: HouseholdData) -> set[str]:
    cols: set[str] = set()
    for t in data.tables.values():
        cols |= set(t.columns)
    return cols | {"age_group", "migratory_status", "hh_migratory_status", "parent_abroad", "head_sex"}
