"""Typed specifications a dataset carries: its survey design (``DesignSpec``) and provenance.

Both are data: a profile's ``[design]`` section becomes a :class:`DesignSpec`, the importer
writes a :class:`Provenance` holding it, and both are stored in the dataset's ``manifest.json``
and read back unchanged. Everything that estimates (indicators, ``migdata estimate``, the
report, ``migdata info``, notebooks) builds its design from this one specification, through
:meth:`migdata.model.data.HouseholdData.design`.

The weight rule (one rule, documented here, applied by :func:`migdata.model.frame.unit_frame`):

- a **household** is weighted by the household weight (``weights``, default column ``weight``
  of the households table);
- a **person** carries the person weight when the profile declares one (``person_weights``,
  e.g. the LFS person weight ``PUFPWGTPRV``), else the weight of their household. The rule is
  per dataset, never per row: a person without a person weight in a dataset that declares
  person weights has a missing weight (a located problem), not their household's.
- a **complete count** (CBMS, census) weights every unit 1 and has no sampling error, whatever
  weight column the data has.

Example:
    >>> spec = DesignSpec.from_profile({"weights": "weight", "psu": "psu", "strata": "stratum"})
    >>> spec.psu, spec.strata, spec.lonely_psu
    (('psu',), ('stratum',), 'fail')
    >>> DesignSpec.from_dict(spec.to_dict()) == spec
    True
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

from migdata.errors import UsageError

LONELY_PSU_RULES = ("fail", "remove", "certainty", "adjust", "average")
#: What a record of a sample design without its design columns (stratum, PSU, FPC) is.
MISSING_DESIGN_RULES = ("fail", "exclude")
#: How the weights are calibrated to the CBMS totals (R ``postStratify``, ``rake``, ``calibrate``).
CALIBRATION_METHODS = ("poststratify", "rake", "linear", "raking", "logit")
#: The units of CBMS whose counts a survey can be calibrated to (``migdata.indicators.frames``).
CALIBRATION_FRAMES = ("of", "of_household", "clb", "household", "person")


def _names(value: Any) -> tuple[Any, ...]:
    """A column or list of columns as a tuple; empty strings and None mean 'none'."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(None if (v is None or v == "") else str(v) for v in value)


def _check_totals(unit: str, i: int, item: Any, margins: tuple[tuple[str, ...], ...]) -> None:
    """One margin's totals as ``[design.calibration]`` holds them: ``columns`` (a declared
    margin), ``cells`` (one value per column each) and ``total`` (one number per cell)."""
    where = f"totals.{unit}[{i + 1}]"

    def bad(detail: str) -> UsageError:
        return UsageError("MD314", where=where, detail=detail)

    if not isinstance(item, dict) or set(item) != {"columns", "cells", "total"}:
        keys = ", ".join(sorted(item)) if isinstance(item, dict) else type(item).__name__
        raise bad(f"it has {keys or 'nothing'}, not exactly columns, cells and total")
    cols = tuple(str(c) for c in item["columns"])
    if cols not in margins:
        raise bad(f"its columns {'+'.join(cols)} are not one of the margins "
                  f"({'; '.join('+'.join(m) for m in margins) or 'none declared'})")
    cells, total = list(item["cells"]), list(item["total"])
    if len(cells) != len(total):
        raise bad(f"it has {len(cells)} cells but {len(total)} totals")
    for c, t in zip(cells, total):
        n = len(c) if isinstance(c, (list, tuple)) else 1
        if n != len(cols):
            raise bad(f"cell {c!r} has {n} value(s) for {len(cols)} column(s)")
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t >= 0:
            raise bad(f"the total of cell {c!r} is {t!r}, not a number >= 0")


@dataclass(frozen=True)
class CalibrationSpec:
    """Non-response adjustment and calibration to CBMS totals, as a profile's
    ``[design.calibration]`` declares them (applied by ``migdata.survey.calibration.from_spec``).

    A local survey drawn from the CBMS frame (``migdata draw``) has design weights 1/pi. Three
    named steps follow, in this order, each optional:

    1. **respondents** (``respondent``): a record responded when each listed column holds one of
       its values (e.g. ``{consent = true}``). The others (refusals, no answer) stay rows with
       weight 0 outside the design (:func:`migdata.survey.design.outside_sample`): every
       estimate, SE and df is R's on ``svydesign(data = respondents, ...)``, the respondents
       being the sample once non-response is adjusted (missing at random within the cells).
    2. **non-response within strata** (``nonresponse``, the weighting classes: the strata): the
       respondents of each stratum carry its frame count N_h, the FPC the draw wrote (R
       ``postStratify(design, ~stratum, N_h)``). Under simple random sampling within strata
       N_h is the sum of 1/pi over every unit drawn, reached or not, so this is the classic
       weighting-class adjustment, and because N_h is a known count its post-stratified
       variance is the right one. Non-response within finer cells (stratum x sex, ...) is
       post-stratification to their CBMS counts: step 3.
    3. **calibration to CBMS** (``frames``, ``margins``, ``method``): the weights are calibrated
       to the complete-count totals of the CBMS units a unit of the survey stands for
       (``frames``: unit -> ``of`` overseas Filipinos, ``clb`` children 0-17 with a parent
       abroad, ``of_household``, ``household`` or ``person``), over each margin (a tuple of
       columns; ``stratum`` means the strata of the draw, which are area codes). ``method``:
       ``poststratify`` (one margin, its cells jointly), ``rake``, or ``calibrate`` with
       ``linear``, ``raking`` or ``logit`` (``bounds`` for the last). The totals are CBMS
       cell sums, so they exist only where the survey is estimated in a database that holds
       the CBMS stream; ``totals`` holds them then (``{unit: [{"columns": [...], "cells":
       [[value, ...], ...], "total": [...]}]}``), filled by ``migdata.indicators.frames``.
       Without them the design stops after step 2 and says so (:meth:`describe`).
       A survey extract with no CBMS frame (an LFS-like survey calibrated to PSA population
       projections) gives its ``totals`` as data in the profile instead, in the same form
       (``[[design.calibration.totals.person]]`` tables with ``columns``, ``cells``,
       ``total``; each ``columns`` one of the ``margins``, checked: MD314), and no ``frames``.

    Example:
        >>> c = CalibrationSpec.from_dict({"respondent": {"consent": True}, "nonresponse": ["stratum"],
        ...                                "frames": {"person": "of"}, "margins": [["stratum"], ["sex"]]})
        >>> c.margins, c.method, c.respondent
        ((('stratum',), ('sex',)), 'raking', (('consent', (True,)),))
        >>> CalibrationSpec.from_dict(c.to_dict()) == c
        True
    """

    respondent: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    nonresponse: tuple[str, ...] = ()
    frames: tuple[tuple[str, str], ...] = ()
    margins: tuple[tuple[str, ...], ...] = ()
    method: str = "raking"
    bounds: tuple[float, float] | None = None
    totals: dict[str, list[dict[str, Any]]] | None = None

    def __post_init__(self) -> None:
        if self.method not in CALIBRATION_METHODS:
            raise UsageError("MD307", what="Calibration method", value=self.method,
                             choices=", ".join(CALIBRATION_METHODS))
        bad = [f for _, f in self.frames if f not in CALIBRATION_FRAMES]
        if bad:
            raise UsageError("MD307", what="Calibration frame", value=bad[0], choices=", ".join(CALIBRATION_FRAMES))
        if self.method == "poststratify" and len(self.margins) > 1:
            raise UsageError("MD346", margins=" and ".join("+".join(m) for m in self.margins))
        for unit, items in (self.totals or {}).items():
            for i, item in enumerate(items if isinstance(items, (list, tuple)) else [items]):
                _check_totals(unit, i, item, self.margins)

    @classmethod
    def from_dict(cls, d: "dict[str, Any] | CalibrationSpec | None") -> "CalibrationSpec | None":
        """Read a profile's ``[design.calibration]`` table or a stored spec (None stays None)."""
        if d is None or isinstance(d, CalibrationSpec):
            return d
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise UsageError("MD307", what="[design.calibration] key", value=", ".join(sorted(unknown)),
                             choices=", ".join(sorted(known)))
        resp = d.get("respondent") or {}
        items = resp.items() if isinstance(resp, dict) else resp
        respondent = tuple((str(k), tuple(v) if isinstance(v, (list, tuple)) else (v,)) for k, v in items)
        frames = d.get("frames") or {}
        frames = tuple((str(k), str(v)) for k, v in (frames.items() if isinstance(frames, dict) else frames))
        margins = tuple(_names(m) for m in (d.get("margins") or ()))
        bounds = d.get("bounds")
        return cls(respondent=respondent, nonresponse=_names(d.get("nonresponse")), frames=frames,
                   margins=margins, method=str(d.get("method", "raking")),
                   bounds=None if bounds is None else (float(bounds[0]), float(bounds[1])),
                   totals=d.get("totals"))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (read back by :meth:`from_dict`)."""
        return {"respondent": {k: list(v) for k, v in self.respondent}, "nonresponse": list(self.nonresponse),
                "frames": dict(self.frames), "margins": [list(m) for m in self.margins], "method": self.method,
                "bounds": None if self.bounds is None else list(self.bounds), "totals": self.totals}

    def frame(self, unit: str) -> str | None:
        """The CBMS frame whose counts ``unit`` is calibrated to (None: not calibrated)."""
        return dict(self.frames).get(unit)

    def unit_totals(self, unit: str) -> list[dict[str, Any]] | None:
        """The CBMS totals of ``unit``'s margins, when they have been filled (see the class)."""
        return (self.totals or {}).get(unit)

    def columns(self) -> list[str]:
        """The columns the respondent rule reads (household columns for a person frame)."""
        return [c for c, _ in self.respondent]

    def describe(self, unit: str | None = None) -> str:
        """One line, e.g. ``non-response within stratum; raking to CBMS of (stratum; sex)``."""
        parts = []
        if self.respondent:
            parts.append("respondents: " + ", ".join(f"{c} in {list(v)}" if len(v) > 1 else f"{c} = {v[0]}"
                                                      for c, v in self.respondent))
        if self.nonresponse:
            parts.append(f"non-response adjusted within {'+'.join(self.nonresponse)} to the frame counts")
        units = [unit] if unit else list(dict.fromkeys([*(u for u, _ in self.frames), *(self.totals or {})]))
        for u in units:
            f = self.frame(u)
            if not self.margins or (f is None and self.unit_totals(u) is None):
                continue
            margins = "; ".join("+".join(m) for m in self.margins)
            if f is None:
                parts.append(f"calibrated ({self.method}) to the profile's totals by {margins}")
            elif self.unit_totals(u) is None:
                parts.append(f"calibration to CBMS {f} counts ({margins}) not applied: no CBMS stream beside it")
            else:
                parts.append(f"calibrated ({self.method}) to CBMS {f} counts by {margins}")
        return "; ".join(parts)


@dataclass(frozen=True)
class DesignSpec:
    """How a dataset was sampled, as R ``svydesign`` declares it.

    Attributes:
        complete_count: a census / complete enumeration (no sampling error; weight 1).
        weights: household weight column.
        person_weights: person weight column of the persons table, or None (persons carry their
            household's weight; see the module docstring for the rule).
        strata: stratum column(s), one per stage (None entries: stage unstratified).
        psu: cluster column(s), one per stage; units of each stage are nested in the strata
            and units of the stage above (R's ``nest=TRUE``), so codes need only be unique
            within them.
        fpc: finite population correction column(s), one per stage (counts or fractions).
        lonely_psu: ``fail`` (R's default), ``remove``, ``certainty``, ``adjust`` or ``average``.
        design_domain: the finest area level the sample supports; estimates are published down
            to it (``barangay`` for a complete count).
        missing_design: a record without its stratum, PSU or FPC (not drawn from the sample
            list, or its sample group left blank): ``fail`` (an error, as R) or ``exclude`` (it
            stays a row with weight 0, in no design-based estimate, as R's ``subset``; the
            import reports each one, MD367).
        calibration: non-response adjustment and calibration to CBMS totals
            (:class:`CalibrationSpec`; None: the design weights as they are).

    Example:
        >>> DesignSpec(complete_count=True).design_domain
        'barangay'
    """

    complete_count: bool = False
    weights: str | None = "weight"
    person_weights: str | None = None
    strata: tuple[str | None, ...] = ()
    psu: tuple[str | None, ...] = ()
    fpc: tuple[str | None, ...] = ()
    lonely_psu: str = "fail"
    design_domain: str = ""
    missing_design: str = "fail"
    calibration: CalibrationSpec | None = None

    def __post_init__(self) -> None:
        from migdata.areas.levels import level

        for name in ("strata", "psu", "fpc"):
            object.__setattr__(self, name, _names(getattr(self, name)))
        for name in ("weights", "person_weights"):
            if getattr(self, name) == "":
                object.__setattr__(self, name, None)
        object.__setattr__(self, "calibration", CalibrationSpec.from_dict(self.calibration))
        if self.missing_design not in MISSING_DESIGN_RULES:
            raise UsageError("MD307", what="missing_design rule", value=self.missing_design,
                             choices=", ".join(MISSING_DESIGN_RULES))
        if self.lonely_psu not in LONELY_PSU_RULES:
            raise UsageError("MD307", what="Lonely PSU rule", value=self.lonely_psu,
                             choices=", ".join(LONELY_PSU_RULES))
        dd = self.design_domain or ("barangay" if self.complete_count else "region")
        object.__setattr__(self, "design_domain", level(dd))

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_profile(cls, section: dict[str, Any] | None, complete_count: bool = False) -> "DesignSpec":
        """The spec of a profile's ``[design]`` table (keys as the attributes; ``weights`` may be
        ``""`` for none)."""
        section = dict(section or {})
        unknown = set(section) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise UsageError("MD307", what="[design] key", value=", ".join(sorted(unknown)),
                             choices=", ".join(f.name for f in dataclasses.fields(cls)))
        section.setdefault("complete_count", complete_count)
        return cls(**section)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, complete_count: bool | None = None) -> "DesignSpec":
        """Read a stored spec; also reads the untyped ``design`` dicts of stores written before
        0.2 (``{"weights": ..., "psu": "", "strata": ""}`` with ``complete_count`` beside it)."""
        d = dict(d or {})
        if complete_count is not None and "complete_count" not in d:
            d["complete_count"] = complete_count
        keep = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in keep})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples as lists)."""
        out = {f.name: (list(v) if isinstance(v, tuple) else v)
               for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}
        out["calibration"] = None if self.calibration is None else self.calibration.to_dict()
        return out

    def replace(self, **changes: Any) -> "DesignSpec":
        """A copy with some attributes changed (e.g. another lonely-PSU rule)."""
        return dataclasses.replace(self, **changes)

    # -- rules ----------------------------------------------------------------------------
    def weight_column(self, unit: str) -> str | None:
        """The column whose values weight a ``unit`` (``person``, ``household``, a survey table)."""
        if self.complete_count:
            return None
        if unit == "person" and self.person_weights:
            return self.person_weights
        return self.weights

    def columns(self) -> list[str]:
        """Every column the design reads (weights, strata, PSUs, FPCs, the respondent rule's)."""
        resp = self.calibration.columns() if self.calibration is not None else []
        out = [c for c in (self.weights, self.person_weights, *self.strata, *self.psu, *self.fpc, *resp) if c]
        return list(dict.fromkeys(out))

    def describe(self, unit: str | None = None) -> str:
        """One line for people: ``complete count`` or ``weights=..., strata=..., ...`` (with the
        calibration of ``unit``, or of every calibrated unit)."""
        if self.complete_count:
            return "complete count (census: every unit enumerated, no sampling error)"
        parts = [f"weights={self.weights or '1'}"]
        if self.person_weights:
            parts.append(f"person weights={self.person_weights}")
        parts.append(f"strata={'+'.join(s or '-' for s in self.strata) or 'none'}")
        parts.append(f"PSU={'/'.join(p or '-' for p in self.psu) or 'none (units sampled directly)'}")
        if self.fpc:
            parts.append(f"FPC={'/'.join(p or '-' for p in self.fpc)}")
        parts.append(f"lonely PSU: {self.lonely_psu}")
        parts.append(f"published down to {self.design_domain}")
        if self.missing_design == "exclude":
            parts.append("records without a design excluded")
        out = ", ".join(parts)
        if self.calibration is not None:
            cal = self.calibration.describe(unit)
            out += f"; {cal}" if cal else ""
        return out


#: Streams of the local migration database (DESIGN.md §1).
STREAMS = ("census", "survey", "cbms", "cbms_rider", "of_survey", "clb_survey", "other")


@dataclass
class Provenance:
    """Where a dataset comes from and how it may be estimated.

    Every field the product reads is written by the importer (``migdata.importer``) and kept in
    ``manifest.json``; ``extra`` holds anything else a profile or a user adds.

    Example:
        >>> p = Provenance(sources=["cbms_2022_hpq"], rounds=["2022"], design=DesignSpec(complete_count=True))
        >>> p.complete_count, Provenance.from_dict(p.to_dict()).rounds
        (True, ['2022'])
    """

    dataset_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    stream: str | None = None
    sources: list[str] = field(default_factory=list)
    rounds: list[str] = field(default_factory=list)
    period: str | None = None
    reference_date: str | None = None
    design: DesignSpec = field(default_factory=DesignSpec)
    psgc_release: str | None = None
    profile: str | None = None
    profile_path: str | None = None
    reader: str | None = None
    files: list[str] = field(default_factory=list)
    policy: str | None = None
    keep_identifiers: bool = False
    #: secret of this dataset for the disclosure-control record keys; never published
    disclosure_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: which table is each unit of analysis (a stand-alone survey's respondents are its persons)
    units: dict[str, str] = field(default_factory=lambda: {"person": "persons", "household": "households"})
    #: links to other streams declared by the profile (``[[links]]``; see migdata.model.database)
    links: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def complete_count(self) -> bool:
        """True for censuses (CBMS, CPH): weight 1 and no sampling error."""
        return self.design.complete_count

    @property
    def label(self) -> str:
        """Sources and rounds for a source line, e.g. ``cbms_2022_hpq 2022``."""
        src = ", ".join(self.sources) or "unknown source"
        period = self.period or ", ".join(self.rounds)
        return f"{src} {period}".strip()

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["design"] = self.design.to_dict()
        out["complete_count"] = self.complete_count  # for readers of the manifest without migdata
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Provenance":
        """Read a stored provenance; untyped dicts of older stores are read too (unknown keys go
        to ``extra``)."""
        d = dict(d or {})
        legacy_cc = d.pop("complete_count", None)
        design = d.pop("design", None)
        spec = design if isinstance(design, DesignSpec) else DesignSpec.from_dict(
            design, complete_count=bool(legacy_cc) if legacy_cc is not None else None)
        if legacy_cc is not None and bool(legacy_cc) != spec.complete_count:
            spec = spec.replace(complete_count=bool(legacy_cc))
        if "design_domain" in d:  # written beside the design by older code paths
            spec = spec.replace(design_domain=d.pop("design_domain") or spec.design_domain)
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names and k != "extra"}
        extra = dict(d.get("extra") or {})
        extra.update({k: v for k, v in d.items() if k not in names})
        for k in ("sources", "rounds", "files"):
            if k in kwargs:
                kwargs[k] = [str(x) for x in _listed(kwargs[k])]
        if kwargs.get("dataset_id") is None:
            kwargs.pop("dataset_id", None)
        if not kwargs.get("disclosure_key") and kwargs.get("dataset_id"):
            # stores written before record keys existed: a stable key from the dataset id, so
            # that every table published from the store perturbs a cell the same way
            import hashlib
            kwargs["disclosure_key"] = hashlib.sha256(
                f"migdata-record-keys:{kwargs['dataset_id']}".encode()).hexdigest()[:32]
        return cls(design=spec, extra=extra, **kwargs)

    def replace(self, **changes: Any) -> "Provenance":
        return dataclasses.replace(self, **changes)


def _listed(v: Any) -> Iterable[Any]:
    if v is None:
        return []
    if isinstance(v, (str, bytes)):
        return [v]
    return list(v)


#: Conflict kinds a link checks, and their message codes.
CONFLICTS = {"sex": "MD152", "age": "MD153", "area": "MD154", "of_status": "MD155"}


@dataclass(frozen=True)
class LinkSpec:
    """A link from a table of one dataset to a table of another stream, declared in a profile::

        [[links]]
        name = "respondent"             # what the link is (shown in the link report)
        table = "of_survey"             # this dataset's table
        to = "cbms"                     # the stream linked to (its latest round unless `round`)
        to_table = "persons"            # persons: a member link; households: a household link
        on = { hh_id = "hh_id", line_no = "line_no" }   # target column = this table's column
        compare = ["sex", "age", "area", "of_status"]
        age_tolerance = 1               # years (ages are asked months apart)
        of_status = "abroad"            # the linked member must be an overseas Filipino

    Example:
        >>> LinkSpec.from_dict({"table": "t", "to": "cbms", "on": {"hh_id": "case"}}).keys
        [('hh_id', 'case')]
    """

    table: str
    to: str
    on: tuple[tuple[str, str], ...]
    to_table: str = "households"
    name: str = ""
    compare: tuple[str, ...] = ()
    age_tolerance: int = 1
    of_status: str | None = None
    round: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LinkSpec":
        known = {"table", "to", "on", "to_table", "name", "compare", "age_tolerance", "of_status", "round"}
        unknown = set(d) - known
        if unknown or not d.get("table") or not d.get("to") or not d.get("on"):
            raise UsageError("MD150", detail=(f"unknown key(s) {sorted(unknown)}" if unknown
                                              else "table, to and on are required"),
                             choices=", ".join(sorted(known)))
        bad = set(d.get("compare", [])) - set(CONFLICTS)
        if bad:
            raise UsageError("MD150", detail=f"compare {sorted(bad)}", choices=", ".join(CONFLICTS))
        return cls(table=str(d["table"]), to=str(d["to"]), on=tuple((str(k), str(v)) for k, v in d["on"].items()),
                   to_table=str(d.get("to_table", "households")), name=str(d.get("name", "")),
                   compare=tuple(d.get("compare", ())), age_tolerance=int(d.get("age_tolerance", 1)),
                   of_status=d.get("of_status"), round=d.get("round"))

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "to": self.to, "on": dict(self.on), "to_table": self.to_table,
                "name": self.name, "compare": list(self.compare), "age_tolerance": self.age_tolerance,
                "of_status": self.of_status, "round": self.round}

    @property
    def keys(self) -> list[tuple[str, str]]:
        return list(self.on)

    @property
    def label(self) -> str:
        return self.name or f"{self.table} -> {self.to} {self.to_table}"
