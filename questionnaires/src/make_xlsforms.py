"""Regenerate the bundled XLSForms in ``questionnaires/`` from their Python source.

The questions, choices and settings live in ``migdata/questionnaires/forms/*.py`` (readable diffs);
this script writes ``questionnaires/<form>.xlsx`` from them. Run from the repository root:

    python questionnaires/src/make_xlsforms.py

``tests/test_questionnaires.py`` fails when a committed workbook differs from its source.
"""

from pathlib import Path

from migdata.questionnaires.xlsform import write_all

if __name__ == "__main__":
    for p in write_all(Path(__file__).resolve().parents[1]):
        print(f"wrote {p}")
