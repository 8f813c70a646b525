"""The records of a sample survey that carry no sample design, reported at import.

A survey drawn from a list (``migdata draw``) carries each record's stratum, selection
probability and frame count, copied by the enumerator from the sample list. A record without
them (the sample group left blank, or a respondent who was not drawn from the list: an MRC
intake, a referral) cannot be placed in the probability sample. When the profile says so
(``[design] missing_design = "exclude"``) such a record is kept, with its answers, but is in no
design-based estimate (weight 0; :func:`migdata.survey.design.outside_sample`), and the import
report lists each one (MD367) with its row, so the user sees how many there are and where.

Why excluded rather than a stratum of their own: a design-based estimate is unbiased because
every unit's selection probability is known; a record outside the list has none, so weighting
it in would bias every estimate by an amount nobody can measure. Its answers stay in the table
for analyses that do not claim to represent the population.

Example:
    >>> import pandas as pd
    >>> from migdata.model.data import HouseholdData
    >>> from migdata.model.report import ImportReport
    >>> t = pd.DataFrame({"stratum": ["a", None], "fpc": [10.0, None], "_source_row": [2, 3]})
    >>> d = HouseholdData({"of_survey": t}, provenance={"design": {"strata": "stratum", "fpc": "fpc",
    ...     "missing_design": "exclude"}, "units": {"person": "of_survey"}})
    >>> [(p.code, p.source_row, p.column) for p in report_missing_design(d)]
    [('MD367', 3, 'stratum')]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from migdata.model.report import Problem


def report_missing_design(data: Any) -> list[Problem]:
    """Add an MD367 problem (action ``kept``) to ``data.report`` for every record of a sample
    design that lacks its stratum, PSU or FPC, when the profile excludes such records; returns
    the problems added. Counts of rows read, kept and rejected do not change."""
    spec = data.spec
    if spec.complete_count or spec.missing_design != "exclude":
        return []
    cols = [c for c in (*spec.strata, *spec.psu, *spec.fpc) if c]
    added: list[Problem] = []
    units = {"person": "persons", "household": "households", **data.provenance.units}
    files = data.provenance.files
    source = Path(files[0]).name if len(files) == 1 else "the data"
    for table in dict.fromkeys(units.values()):
        df = data.tables.get(table)
        if df is None or not len(df) or not any(c in df.columns for c in cols):
            continue
        present = [c for c in cols if c in df.columns]
        missing = df[present].isna().to_numpy()
        for pos in missing.any(axis=1).nonzero()[0]:
            c = present[int(missing[pos].argmax())]  # the first design column the record lacks
            row = df["_source_row"].iloc[pos] if "_source_row" in df.columns else int(pos) + 1
            added.append(data.report.add("MD367", table=table, source_file=source, source_row=int(row), column=c,
                                         value=None, action="kept"))
    return added


__all__ = ["report_missing_design"]
