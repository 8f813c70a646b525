"""Kobo XLSX exports of the project's three questionnaires, filled with synthetic submissions.

Uses the questionnaire package: :func:`migdata.questionnaires.submissions.fake_submissions`
(random answers that obey each form's relevance rules, constraints and repeat counts) and
:func:`~migdata.questionnaires.submissions.write_kobo_xlsx` (Kobo's "XML values and headers"
export layout, one sheet per repeat). The submissions are not linked to the synthetic CBMS
households: the forms are separate surveys (the CBMS migration rider, the survey of overseas
Filipinos, the survey of children left behind).

Example:
    >>> sorted(SUBMISSIONS)
    ['cbms_migration_rider', 'children_left_behind_survey', 'overseas_filipino_survey']
"""

from __future__ import annotations

import os
from pathlib import Path

#: form name -> number of synthetic submissions written
SUBMISSIONS = {"cbms_migration_rider": 120, "overseas_filipino_survey": 150,
               "children_left_behind_survey": 150}


def write_kobo_exports(out_dir: str | os.PathLike[str], seed: int) -> list[Path]:
    """Write ``<form>.xlsx`` for each questionnaire into ``out_dir``; returns the paths."""
    from migdata.questionnaires.submissions import fake_submissions, write_kobo_xlsx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for k, (form, n) in enumerate(sorted(SUBMISSIONS.items())):
        subs = fake_submissions(form, n, seed=seed * 10 + k)
        written.append(write_kobo_xlsx(form, subs, out / f"{form}.xlsx"))
    return written
