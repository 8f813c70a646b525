"""Rounds of a dataset: the round and period read from the data, and several rounds in one dataset.

A survey round is a property of the data, not of the profile: the LFS public-use files say
which month they are (``PUFSVYYR``, ``PUFSVYMO``) and the profile maps them to the households'
``round`` column. The importer records the rounds found there in
:class:`~migdata.model.spec.Provenance` (``rounds``, ``period``), from which the manifest,
``migdata info``, every indicator row, the workbook and the report take them. An explicit
period (``import_files(period=...)``, ``migdata import --period``) overrides the data's.

Several rounds in one dataset (:func:`pool`, or one import of several rounds' files) follow
two rules, so that each round is estimated exactly as it would be alone:

- **ids unique per round**: a household id used by two rounds is prefixed with its round
  (``2022-02:04-00001``); ids already unique across the rounds are kept;
- **strata are round x stratum**: each round is an independent sample, so a stratum label that
  two rounds share is prefixed with the round; a dataset without strata gets the round as its
  stratum. PSUs are nested in strata (R's ``nest=TRUE``), hence in rounds.

``round`` is then a domain like any other column: ``migdata indicators --by round``,
``compute(data, by=["round"])``, ``data.design().mean("y", by="round")``.

Example:
    >>> import pandas as pd
    >>> from migdata.model.data import HouseholdData
    >>> def one(r):
    ...     hh = pd.DataFrame({"hh_id": ["a", "b"], "weight": 1.0, "stratum": "s", "psu": ["1", "2"],
    ...                        "round": r})
    ...     pp = pd.DataFrame({"hh_id": ["a", "b"], "line_no": [1, 1], "age": [30, 40]})
    ...     return HouseholdData({"households": hh, "persons": pp},
    ...                          provenance={"rounds": [r], "design": {"strata": "stratum", "psu": "psu"}})
    >>> both = pool([one("2022-02"), one("2022-12")])
    >>> both.provenance.rounds, both.households["hh_id"].tolist()
    (['2022-02', '2022-12'], ['2022-02:a', '2022-02:b', '2022-12:a', '2022-12:b'])
    >>> both.households["stratum"].tolist()
    ['2022-02:s', '2022-02:s', '2022-12:s', '2022-12:s']
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from migdata.errors import UsageError
from migdata.model.report import ImportReport
from migdata.model.spec import DesignSpec, Provenance

ROUND = "round"
#: separates a round from an id or stratum label it qualifies
SEP = ":"


def rounds_of(households: pd.DataFrame | None) -> list[str]:
    """The distinct rounds of a households table, sorted (empty when it has no round)."""
    if households is None or ROUND not in households.columns:
        return []
    vals = households[ROUND].dropna().astype(str).str.strip()
    return sorted(v for v in vals.unique() if v)


def period_text(rounds: Sequence[str]) -> str | None:
    """The period of a dataset holding ``rounds``: the round itself, or the rounds listed
    (``2022-02, 2022-12``: not an interval, the months between are not covered)."""
    rounds = list(rounds)
    if not rounds:
        return None
    return rounds[0] if len(rounds) == 1 else ", ".join(rounds)


def record_period(tables: dict[str, pd.DataFrame], period: str | None, fallback: Sequence[str],
                  report: ImportReport | None = None) -> tuple[list[str], str | None]:
    """The rounds and period of freshly imported tables: rounds from the households' ``round``
    column (else ``fallback``, the profile's fixed round); ``period`` (the user's explicit
    period) overrides them. With one round in the data, the explicit period also becomes its
    round (the households' ``round`` column is set to it, and a note says what the data said).
    """
    hh = tables.get("households")
    found = rounds_of(hh) or [str(r) for r in fallback if r]
    if not period:
        return found, period_text(found)
    period = str(period).strip()
    if len(found) > 1:  # a pooled import: the period labels the whole, the rounds stay
        return found, period
    if found and found[0] != period and report is not None:
        report.notes.append(f"the data gives the round {found[0]}; the period given for the import, "
                            f"{period}, replaces it")
    if hh is not None and len(hh):
        hh[ROUND] = pd.Series(period, index=hh.index, dtype=hh[ROUND].dtype if ROUND in hh else "string")
    return [period], period


def _prefixed(values: pd.Series, rounds: pd.Series) -> pd.Series:
    out = rounds.astype(str) + SEP + values.astype(str)
    return out.where(values.notna()).astype(values.dtype if pd.api.types.is_string_dtype(values.dtype) else "string")


def cross_strata(households: pd.DataFrame, spec: DesignSpec) -> tuple[pd.DataFrame, DesignSpec]:
    """Strata as round x stratum when the households hold several rounds (see the module
    docstring); the spec gains a ``stratum`` column (the round) when it declared none."""
    rounds = households[ROUND] if ROUND in households.columns else None
    if spec.complete_count or rounds is None or rounds.dropna().nunique() < 2:
        return households, spec
    out = households.copy(deep=False)
    if not spec.strata or not spec.strata[0]:
        out["stratum"] = rounds.astype(str).astype("string")
        return out, spec.replace(strata=("stratum", *spec.strata[1:]))
    for col in dict.fromkeys(c for c in spec.strata if c):
        if col not in out.columns:
            continue
        shared = out[[col, ROUND]].dropna().drop_duplicates().groupby(col, observed=True)[ROUND].nunique()
        if (shared > 1).any():
            out[col] = _prefixed(out[col], rounds)
    return out, spec


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat`` keeping categorical columns categorical (categories: their union)."""
    out = pd.concat(frames, ignore_index=True)
    for c in out.columns:
        cats = [f[c] for f in frames if c in f.columns]
        if out[c].dtype == object and len(cats) == len(frames) and all(isinstance(s.dtype, pd.CategoricalDtype) for s in cats):
            out[c] = pd.api.types.union_categoricals([s.astype("category") for s in cats],
                                                     ignore_order=True)
    return out


def pool(datasets: Sequence[Any]) -> Any:
    """One dataset holding the rounds of ``datasets`` (each a
    :class:`~migdata.model.data.HouseholdData` of one or more rounds, imported with the same
    profile, hence the same design): tables stacked, ids unique per round, strata round x
    stratum, provenance listing every round and file. Per-round estimates on the pooled dataset
    (``by=["round"]``) equal each round's alone.

    ``MD525`` when the designs differ or a dataset has no round.
    """
    from migdata.model.data import HouseholdData

    datasets = list(datasets)
    if not datasets:
        raise UsageError("MD525", detail="no dataset given")
    if len({(d.spec.weights, d.spec.person_weights, d.spec.psu, d.spec.complete_count) for d in datasets}) > 1:
        raise UsageError("MD525", detail="their designs differ: " + "; ".join(sorted({d.spec.describe()
                                                                                    for d in datasets})))
    parts: list[dict[str, pd.DataFrame]] = []
    for d in datasets:
        hh = d.households
        if not len(hh) or not rounds_of(hh):
            raise UsageError("MD525", detail=f"{d.provenance.label or 'a dataset'} has no round (households.round)")
        parts.append({name: df for name, df in d.tables.items()})
    # ids: prefixed with the round wherever two datasets use the same household id
    ids = [set(p["households"]["hh_id"].astype(str)) for p in parts]
    clash = len(set().union(*ids)) < sum(len(s) for s in ids)
    tables: dict[str, list[pd.DataFrame]] = {}
    for p in parts:
        hh = p["households"]
        for name, df in p.items():
            df = df.copy(deep=False)
            if clash and "hh_id" in df.columns:
                rnd = hh.set_index(hh["hh_id"].astype(str))[ROUND].astype(str)
                own = df["hh_id"].astype(str).map(rnd)
                df["hh_id"] = _prefixed(df["hh_id"], own)
            tables.setdefault(name, []).append(df)
    merged = {name: _stack(dfs) for name, dfs in tables.items()}
    spec = datasets[0].spec
    hh, spec = cross_strata(merged["households"], spec)
    merged["households"] = hh
    first = datasets[0].provenance
    rounds = sorted({r for d in datasets for r in rounds_of(d.households)})
    prov = Provenance(
        stream=first.stream, sources=list(dict.fromkeys(s for d in datasets for s in d.provenance.sources)),
        rounds=rounds, period=period_text(rounds), reference_date=None, design=spec,
        psgc_release=first.psgc_release, profile=first.profile, profile_path=first.profile_path,
        reader=first.reader, files=[f for d in datasets for f in d.provenance.files], policy=first.policy,
        keep_identifiers=any(d.provenance.keep_identifiers for d in datasets), units=dict(first.units),
        links=list(first.links), extra={"pooled_from": [d.dataset_id for d in datasets]})
    report = ImportReport()
    for d in datasets:
        report.problems.extend(d.report.problems)
        report.notes.extend(d.report.notes)
        for t, c in d.report.counts.items():
            have = report.counts.get(t, {"read": 0, "kept": 0, "rejected": 0})
            report.set_counts(t, **{k: have[k] + c[k] for k in ("read", "kept", "rejected")})
    report.notes.append(f"pooled {len(datasets)} dataset(s): rounds {', '.join(rounds)}"
                        + ("; household ids prefixed with their round" if clash else ""))
    codebook = datasets[0].codebook
    return HouseholdData(merged, codebook=codebook, provenance=prov, report=report)


__all__ = ["cross_strata", "period_text", "pool", "record_period", "rounds_of"]
