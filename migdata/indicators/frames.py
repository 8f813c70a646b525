"""CBMS as the sampling frame of the local surveys: the frames, the draw, and the CBMS totals a
survey is calibrated to.

The Calabarzon approach's other local streams are samples of what CBMS enumerated (DESIGN.md
§4): the survey of overseas Filipinos samples the OFs CBMS lists, the survey of children left
behind the children 0-17 with a parent abroad, the CBMS migration rider barangays. This module
builds those frames from a CBMS dataset (complete count) with the indicator layer's derived
attributes (:func:`migdata.indicators.derive.units`: ``is_of``, ``parent_abroad``,
``hh_n_of``), so a frame counts exactly the units the catalogue's CBMS indicators count, and
the totals a survey is calibrated to are the same cells:

========================  =========  ==========================================================
frame                     unit       the CBMS units
========================  =========  ==========================================================
``of``                    person     overseas Filipinos (``is_of``: B06 1-6), one row per member
``clb``                   person     children 0-17 whose father or mother is abroad
                                     (``parent_abroad``: the roster's family links)
``of_household``          household  households with at least one overseas Filipino
``household``             household  every household
``person``                person     every person
``barangay``              barangay   barangays with CBMS households (size: their households)
========================  =========  ==========================================================

``migdata draw`` (:func:`draw_survey`) selects a survey's sample from its frame with the pure,
seeded :func:`migdata.survey.draw.draw`, stratified by an area level: the OF survey samples the
overseas Filipinos themselves (its respondent is the OF, its link is to the OF's CBMS line, and
its totals are OFs by area and sex; a sample of households would cluster the OFs of a household
and need every one interviewed: the ``of_household`` frame is there for a survey that wants
it), the CLB survey the children, the rider barangays with PPS on their CBMS households.

Why here and not in ``survey/``: the frames need the indicator layer's derived attributes, and
``survey/`` comes before ``indicators/`` in the data flow (it must not import it); the draw
itself stays a pure function of a table in ``survey/draw.py``.

Example:
    >>> d = draw_survey(migdata.load("db"), "of", 400, strata="city", seed=1)   # doctest: +SKIP
    >>> d.list[["hh_id", "line_no", "stratum", "pi", "weight", "frame_n"]].head()  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from migdata.areas import levels as area_levels
from migdata.errors import UsageError
from migdata.indicators import derive, expr
from migdata.model.data import HouseholdData
from migdata.survey.draw import METHODS, Sample, draw

AREA = ("region", "province", "city_mun", "barangay")


@dataclass(frozen=True)
class Frame:
    """A frame of CBMS units: which unit, which units (an expression of the catalogue's
    language on the derived units), the columns a sample list carries, the size measure."""

    unit: str
    universe: str | None
    ids: tuple[str, ...]
    columns: tuple[str, ...] = ()
    size: str | None = None
    title: str = ""


FRAMES: dict[str, Frame] = {
    "of": Frame("person", "is_of == True", ("hh_id", "line_no"), ("sex", "age", "of_status"),
                title="overseas Filipinos listed by CBMS"),
    "clb": Frame("person", "age >= 0 and age <= 17 and parent_abroad in ['father', 'mother', 'both']",
                 ("hh_id", "line_no"), ("sex", "age", "parent_abroad"),
                 title="children 0-17 with a parent abroad"),
    "of_household": Frame("household", "hh_n_of > 0", ("hh_id",), ("hh_n_of", "hh_size"), size="hh_n_of",
                          title="households with an overseas Filipino"),
    "household": Frame("household", None, ("hh_id",), ("hh_size",), size="hh_size", title="households"),
    "person": Frame("person", None, ("hh_id", "line_no"), ("sex", "age"), title="persons"),
    "barangay": Frame("barangay", None, ("barangay",), ("households", "persons"), size="households",
                      title="barangays with CBMS households"),
}
#: The frame each survey is drawn from, and its usual selection within strata.
SURVEYS: dict[str, tuple[str, str]] = {"of": ("of", "srs"), "of_household": ("of_household", "srs"),
                                       "clb": ("clb", "srs"), "rider": ("barangay", "pps")}
#: Area levels a draw can be stratified by.
STRATA_LEVELS = ("region", "province", "city", "barangay")


@dataclass
class SurveyDraw:
    """A sample drawn from a CBMS frame: ``list`` (the selected units with their CBMS ids, areas,
    ``stratum``, ``pi``, ``weight`` = 1/pi, ``frame_n``, ``sample_n``, ``certainty``, in frame
    order), ``strata`` (one row per stratum: frame count, planned size, size total), and what
    was done (``survey``, ``frame``, ``strata_level``, ``method``, ``size``, ``seed``, ``source``)."""

    list: pd.DataFrame
    strata: pd.DataFrame
    survey: str
    frame: str
    strata_level: str | None
    method: str
    size: str | None
    seed: int
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One paragraph for people."""
        n, N = len(self.list), int(self.strata["frame_n"].sum())
        by = f"{len(self.strata)} strata ({area_levels.NAMES[self.strata_level]})" if self.strata_level else "no strata"
        how = "simple random sampling" if self.method == "srs" else f"PPS systematic on {self.size}"
        return (f"{n:,} of {N:,} {FRAMES[self.frame].title} drawn for the {self.survey} survey from {self.source}: "
                f"{by}, {how} within strata, seed {self.seed}.")


def cbms_dataset(source: Any, round: str | None = None, survey: str = "survey") -> HouseholdData:
    """The CBMS dataset of ``source``: a dataset (a complete count), or a database's CBMS stream
    (its latest round unless ``round``)."""
    from migdata.model.database import Database

    if isinstance(source, Database):
        if "cbms" not in source.streams():
            have = ", ".join(source.streams()) or "nothing"
            raise UsageError("MD368", path=source.path, survey=survey, have=have)
        return source.dataset("cbms", round)
    if isinstance(source, HouseholdData):
        if not source.complete_count and source.provenance.stream != "cbms":
            raise UsageError("MD368", path=source.provenance.label, survey=survey,
                             have=f"a {source.provenance.stream or 'survey'} dataset, not a complete count")
        return source
    raise UsageError("MD307", what="Frame source", value=type(source).__name__,
                     choices="a CBMS dataset (HouseholdData) or a migration database")


def _units(cbms: HouseholdData, cache: dict | None = None) -> dict[str, pd.DataFrame]:
    key = ("units", cbms.dataset_id)  # a cache may serve several CBMS rounds
    if cache is not None and key in cache:
        return cache[key]
    u = derive.units(cbms)
    if cache is not None:
        cache[key] = u
    return u


def frame_units(cbms: HouseholdData, frame: str, cache: dict | None = None) -> pd.DataFrame:
    """Every unit of ``frame`` in ``cbms`` with its ids, area codes (as text), the frame's
    columns and its size measure, sorted by area and ids (the order PPS systematic selection
    runs through: implicit stratification by place)."""
    if frame not in FRAMES:
        raise UsageError("MD307", what="Sampling frame", value=frame, choices=", ".join(FRAMES))
    f = FRAMES[frame]
    units = _units(cbms, cache)
    if f.unit == "barangay":
        hh = units["household"]
        persons = hh["hh_size"].to_numpy(dtype=float)
        t = pd.DataFrame({c: hh[c].astype(str).to_numpy() for c in AREA if c in hh.columns})
        t["households"], t["persons"] = 1, persons
        out = (t.groupby(list(t.columns[:-2]), sort=True, observed=True)[["households", "persons"]].sum()
               .reset_index())
        out["persons"] = out["persons"].astype(np.int64)
        return out
    src = units[f.unit]
    keep = np.ones(len(src), dtype=bool)
    if f.universe:
        keep = pd.Series(expr.evaluate(f.universe, src, (frame, "universe"))).astype("boolean").fillna(
            False).to_numpy(dtype=bool)
    rows = src.loc[keep]
    out = pd.DataFrame(index=range(len(rows)))
    for c in f.ids:
        out[c] = rows[c].to_numpy()
    for c in AREA:
        if c in rows.columns:
            out[c] = rows[c].astype(str).to_numpy()
    for c in f.columns:
        if c in rows.columns:
            v = rows[c]
            out[c] = v.astype(object).to_numpy() if isinstance(v.dtype, pd.CategoricalDtype) else v.to_numpy()
    order = [c for c in ("barangay", *f.ids) if c in out.columns]
    return out.sort_values(order, kind="stable").reset_index(drop=True)


def sampling_frame(source: Any, frame: str = "of", strata: str | None = "city",
                   cache: dict | None = None) -> pd.DataFrame:
    """The frame ``frame`` of the CBMS of ``source`` (see :func:`cbms_dataset`) with a
    ``stratum`` column: the PSGC code of each unit's area at level ``strata`` (None: one
    stratum), rows sorted by stratum then place.

    Example:
        >>> f = sampling_frame(migdata.load("db"), "clb", strata="province")   # doctest: +SKIP
        >>> f.groupby("stratum").size()                                         # doctest: +SKIP
    """
    cbms = cbms_dataset(source)
    out = frame_units(cbms, frame, cache)
    if strata is not None:
        lev = area_levels.level(strata)
        if lev not in STRATA_LEVELS:
            raise UsageError("MD307", what="Strata level", value=strata, choices=", ".join(STRATA_LEVELS))
        out["stratum"] = out[area_levels.COLUMN[lev]].to_numpy()
        out = out.sort_values(["stratum", *[c for c in ("barangay", *FRAMES[frame].ids) if c in out.columns]],
                              kind="stable").reset_index(drop=True)
    return out


def draw_survey(source: Any, survey: str, n: int | Mapping[str, int], *, seed: int, strata: str | None = "city",
                method: str | None = None, size: str | None = None, min_per_stratum: int = 2,
                round: str | None = None) -> SurveyDraw:
    """Draw the sample of ``survey`` (``of``, ``clb``, ``rider``, ``of_household``) from the CBMS
    of ``source`` (a CBMS dataset, or a database with a CBMS stream): stratified by the area
    level ``strata`` (``province``, ``city``, ``barangay``; None: no strata), ``method`` ``srs``
    or ``pps`` (default: the survey's usual one, PPS for the rider's barangays) on the size
    measure ``size`` (default: the frame's), ``n`` units in all (allocated in proportion, at
    least ``min_per_stratum`` per stratum) or ``{stratum code: n_h}``; ``seed`` makes it
    reproducible. See :func:`migdata.survey.draw.draw` for the selection and its properties.

    Example:
        >>> d = draw_survey(migdata.load("db"), "clb", 60, strata="province", seed=7)  # doctest: +SKIP
        >>> d.strata[["stratum", "frame_n", "sample_n"]]                               # doctest: +SKIP
    """
    if survey not in SURVEYS:
        raise UsageError("MD307", what="Survey", value=survey, choices=", ".join(SURVEYS))
    frame, usual = SURVEYS[survey]
    method = method or usual
    if method not in METHODS:
        raise UsageError("MD004", what="sampling method", value=method, choices=", ".join(METHODS))
    cbms = cbms_dataset(source, round, survey)
    units = sampling_frame(cbms, frame, strata)
    if method == "pps":
        size = size or FRAMES[frame].size
    s: Sample = draw(units, n, strata="stratum" if strata is not None else None, method=method, size=size,
                     seed=seed, min_per_stratum=min_per_stratum)
    lst = s.units.reset_index(drop=True)
    lev = area_levels.level(strata) if strata is not None else None
    return SurveyDraw(list=lst, strata=s.strata, survey=survey, frame=frame, strata_level=lev, method=method,
                      size=size if method == "pps" else None, seed=seed, source=cbms.provenance.label)


# ----------------------------------------------------------------------------- calibration totals
def stratum_column(units: pd.DataFrame, codes: Any) -> str | None:
    """The area column of ``units`` whose codes include every stratum code of ``codes`` (the
    strata of a draw are area codes of one level), finest first; None when none does."""
    want = {str(c) for c in pd.Series(codes).dropna().astype(str)}
    from migdata.survey.design import OUTSIDE

    want.discard(OUTSIDE)
    if not want:
        return None
    for c in reversed(AREA):
        if c in units.columns and want <= set(units[c].astype(str).unique()):
            return c
    return None


def calibration_totals(cbms: HouseholdData, survey: HouseholdData, cache: dict | None = None
                       ) -> dict[str, list[dict[str, Any]]] | None:
    """The CBMS totals of the calibration ``survey``'s profile declares
    (:class:`migdata.model.spec.CalibrationSpec`): for each unit and margin, the number of CBMS
    units of the unit's frame in each cell (complete-count cell sums), restricted to the strata
    the survey was drawn in (its ``stratum`` codes: the areas of one level), in the form
    ``CalibrationSpec.totals`` holds. None when the profile declares no calibration margins.

    Example:
        >>> t = calibration_totals(db.dataset("cbms"), db.dataset("of_survey"))  # doctest: +SKIP
        >>> t["person"][1]                                                       # doctest: +SKIP
        {'columns': ['sex'], 'cells': [['female'], ['male']], 'total': [63.0, 57.0]}
    """
    spec = survey.spec
    cal = spec.calibration
    if cal is None or not cal.frames or not cal.margins:
        return None
    out: dict[str, list[dict[str, Any]]] = {}
    for unit, frame in cal.frames:
        fr = frame_units(cbms, frame, cache)
        where = None
        if spec.strata and spec.strata[0]:
            sf = survey.frame(unit)
            codes = sf[spec.strata[0]] if spec.strata[0] in sf.columns else pd.Series([], dtype=object)
            if cal.respondent and len(codes):
                # the strata with a respondent: a stratum where everyone refused has no weight to
                # carry its count, so the totals (and the estimates) cover the other strata
                from migdata.survey.calibration import respondents

                codes = codes[respondents(sf, cal.respondent, unit)]
            where = stratum_column(fr, codes)
            if where is not None:
                keep = {str(c) for c in codes.dropna().astype(str)}
                fr = fr[fr[where].astype(str).isin(keep)]
        items = []
        for margin in cal.margins:
            if "stratum" in margin and where is None:
                example = ", ".join(map(str, survey.frame(unit).get(spec.strata[0] if spec.strata else "stratum",
                                                                     pd.Series([], dtype=object)).dropna()
                                        .astype(str).unique()[:3])) or "none"
                raise UsageError("MD369", what=f"the {survey.provenance.stream or 'survey'} {unit} frame",
                                 example=example)
            cols = [where if c == "stratum" else c for c in margin]
            for c in cols:
                if c not in fr.columns:
                    raise UsageError("MD348", column=c, margin="+".join(margin), unit=f"CBMS {frame}",
                                     known=", ".join(fr.columns))
            keys = fr[cols].astype(str)
            counts = keys.groupby(cols, sort=True).size()
            cells = [list(k) if isinstance(k, tuple) else [k] for k in counts.index]
            items.append({"columns": list(margin), "cells": cells, "total": [float(v) for v in counts.to_numpy()]})
        out[unit] = items
    return out


def calibrated(survey: HouseholdData, cbms: HouseholdData | None, cache: dict | None = None) -> HouseholdData:
    """``survey`` (a view: same tables and report) whose design spec carries the CBMS totals of
    its calibration, so that ``survey.design(unit)`` is calibrated; ``survey`` itself when its
    profile declares no calibration or there is no CBMS."""
    cal = survey.spec.calibration
    if cbms is None or cal is None or not cal.margins or not cal.frames:
        return survey
    totals = calibration_totals(cbms, survey, cache)
    import dataclasses

    # the CBMS counts of the calibrated units; totals the profile gives for other units stay
    spec = survey.spec.replace(calibration=dataclasses.replace(cal, totals={**(cal.totals or {}), **(totals or {})}))
    prov = survey.provenance.replace(design=spec)
    return HouseholdData(survey.tables, codebook=survey.codebook, provenance=prov, report=survey.report)


__all__ = ["FRAMES", "SURVEYS", "STRATA_LEVELS", "Frame", "SurveyDraw", "cbms_dataset", "frame_units",
           "sampling_frame", "draw_survey", "stratum_column", "calibration_totals", "calibrated"]
