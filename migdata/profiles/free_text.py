"""The profile engine's free-text step: typed-in answers kept in a dataset lose the phone
numbers, e-mail addresses and names of their own household (the rules are in
:mod:`migdata.model.privacy`).

A column is free text when the profile says ``free_text = true`` or the tidy schema marks it
(``of_survey.occupation_text``). The household's names come from the profile's ``drop = true``
columns: :func:`identifier_columns` hands them, per table, to :func:`redact_tables` as scratch
columns (dropped with the other scratch columns), so names are read only to be removed and are
never stored or quoted. With ``keep_identifiers`` nothing is redacted.

Example:
    >>> import pandas as pd
    >>> from migdata.model.report import ImportReport
    >>> from migdata.profiles.engine import parse_profile
    >>> prof = parse_profile('''
    ... [profile]
    ... name = "demo"
    ... [tables.persons]
    ... from = "people"
    ... [tables.persons.columns]
    ... hh_id = "HH"
    ... job = { from = "JOB", free_text = true }
    ... name = { from = "NAME", drop = true }
    ... ''')
    >>> out = {"persons": pd.DataFrame({"hh_id": ["a", "a"], "job": ["cook, ask Rosa", None],
    ...                                 "_identifier_name": ["Juan Cruz", "Rosa Cruz"]})}
    >>> r = ImportReport()
    >>> redact_tables(prof, out, "people.csv", r)
    >>> out["persons"]["job"].iloc[0], [p.code for p in r.problems]
    ('cook, ask [name]', ['MD515'])
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from migdata.model.privacy import name_words, redact
from migdata.model.report import ImportReport

IDENTIFIER = "_identifier_"  # prefix of the scratch columns holding a dropped identifier


def _schema(table: str) -> dict[str, dict[str, Any]]:
    from migdata.model.schema import columns, schema

    return columns(table) if table in schema() else {}


def free_text_columns(profile: Any, table: str, names: Any) -> list[str]:
    """The columns among ``names`` of tidy table ``table`` that hold free text."""
    spec = profile.tables.get(table, {}).get("columns", {})
    schema = _schema(table)
    return [c for c in names if spec.get(c, {}).get("free_text") or schema.get(c, {}).get("free_text")]


def has_free_text(profile: Any) -> bool:
    """True when some table of ``profile`` keeps a free-text column."""
    return any(free_text_columns(profile, t, ts["columns"]) for t, ts in profile.tables.items())


def identifier_columns(profile: Any, table: str, source: pd.DataFrame) -> dict[str, pd.Series]:
    """Scratch columns with the raw values of ``table``'s dropped identifiers (names), when the
    profile keeps free text to redact them from; ``source`` is the table's source rows."""
    if not has_free_text(profile):
        return {}
    return {f"{IDENTIFIER}{c}": source[cs["from"]] for c, cs in profile.tables[table]["columns"].items()
            if cs.get("drop") and cs.get("from") in source.columns}


def raw_identifier_columns(profile: Any) -> set[str]:
    """Raw columns read only for redaction (a reader must provide them although dropped)."""
    if not has_free_text(profile):
        return set()
    return {cs["from"] for ts in profile.tables.values() for cs in ts["columns"].values()
            if cs.get("drop") and cs.get("from")}


def redact_tables(profile: Any, out: dict[str, pd.DataFrame], source: str | None,
                  report: ImportReport) -> None:
    """Redact every free-text column of the tidy tables ``out`` in place; each redacted cell is
    reported (MD515, located, the text withheld)."""
    names: dict[Any, set[str]] = {}
    for df in out.values():
        ids = [c for c in df.columns if str(c).startswith(IDENTIFIER)]
        if ids and "hh_id" in df.columns:
            for hh, *vals in zip(df["hh_id"].tolist(), *(df[c].tolist() for c in ids)):
                names.setdefault(hh, set()).update(name_words(vals))
    for tname, df in out.items():
        for col in free_text_columns(profile, tname, df.columns):
            hh = df["hh_id"].tolist() if "hh_id" in df.columns else [None] * len(df)
            texts, changed = redact(df[col], [names.get(h, set()) for h in hh])
            if not changed:
                continue
            df[col] = texts
            pos = [i for i, _ in changed]
            report.record(
                "MD515", table=tname, column=col, action="kept", values=[None] * len(pos), mask=True,
                rows=df["_source_row"].to_numpy()[pos] if "_source_row" in df.columns else None,
                source_file=df["_source_file"].to_numpy()[pos] if "_source_file" in df.columns else source,
                each={"found": [", ".join(f"{n} {k}" for k, n in f.items()) for _, f in changed]})
