"""The questionnaires of data streams (ii)-(iv) as XLSForms, and tools around them.

- :func:`build` (``build.py``): XForm XML of each form via pyxform (fails on any warning);
- :func:`codebook` (``codebook.py``): an Excel codebook of every question;
- :func:`fake_submissions`, :func:`write_kobo_xlsx` (``submissions.py``): synthetic answers and
  Kobo's XLSX export layout;
- form sources in ``forms/`` (Python data, one module per form), written to
  ``questionnaires/*.xlsx`` by ``xlsform.py``.

Example:
    >>> from migdata import questionnaires
    >>> questionnaires.FORMS[0]
    'cbms_migration_rider'
"""

from __future__ import annotations

from migdata.questionnaires.build import build
from migdata.questionnaires.codebook import codebook, codebook_frame
from migdata.questionnaires.form import load_form
from migdata.questionnaires.submissions import fake_submissions, write_kobo_xlsx
from migdata.questionnaires.xlsform import FORMS

__all__ = ["FORMS", "build", "codebook", "codebook_frame", "fake_submissions", "load_form",
           "write_kobo_xlsx"]
