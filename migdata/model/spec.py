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


def _names(value: Any) -> tuple[Any, ...]:
    """A column or list of columns as a tuple; empty strings and None mean 'none'."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(None if (v is None or v == "") else str(v) for v in value)


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
        calibration: how the weights were calibrated (None: not calibrated).

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
    calibration: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        from migdata.areas.levels import level

        for name in ("strata", "psu", "fpc"):
            object.__setattr__(self, name, _names(getattr(self, name)))
        for name in ("weights", "person_weights"):
            if getattr(self, name) == "":
                object.__setattr__(self, name, None)
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
        return {f.name: (list(v) if isinstance(v, tuple) else v)
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}

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
        """Every column the design reads (weights, strata, PSUs, FPCs)."""
        out = [c for c in (self.weights, self.person_weights, *self.strata, *self.psu, *self.fpc) if c]
        return list(dict.fromkeys(out))

    def describe(self) -> str:
        """One line for people: ``complete count`` or ``weights=..., strata=..., ...``."""
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
        return ", ".join(parts)


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
