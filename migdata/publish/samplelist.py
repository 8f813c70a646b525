"""The field team's sample list of a draw from the CBMS frame (``migdata draw``), in CSV and Excel.

What is written for ``OUT`` (e.g. ``of_sample.csv``):

- ``OUT.csv``: one row per selected unit, numbered (``list_no``), with its CBMS ids (``hh_id``
  and ``line_no`` of a member; ``barangay`` for the rider's barangays), its areas, what helps
  the enumerator find it (sex, age; for the CLB survey which parent is abroad), its ``stratum``,
  selection probability ``pi``, design weight ``weight`` = 1/pi, the frame count of its stratum
  ``frame_n`` (the FPC the survey's profile reads), the stratum's sample size ``sample_n`` and
  ``certainty`` (taken with probability 1). The enumerator copies stratum, probability and
  frame count into the form's ``sample`` group.
- ``OUT_strata.csv``: one row per stratum: frame count, planned sample size (and the stratum's
  total size for PPS): the frame counts of the draw.
- ``OUT.xlsx``: the same two tables (sheets ``sample`` and ``strata``) and a sheet ``about``
  saying how the sample was drawn (frame, strata, method, seed, source).

Every cell goes through the formula guard (:mod:`migdata.publish.safe`); no name, address or
phone number is in a list (CBMS keeps none after import).

Example:
    >>> files = write_sample_list(draw, "of_sample.csv")   # doctest: +SKIP
    >>> [f.name for f in files]                             # doctest: +SKIP
    ['of_sample.csv', 'of_sample_strata.csv', 'of_sample.xlsx']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from migdata.publish.safe import write_sheets_xlsx, write_table_csv

#: Columns of the list, in order (those a frame has).
LIST_COLUMNS = ["list_no", "hh_id", "line_no", "barangay", "city_mun", "province", "region", "sex", "age",
                "of_status", "parent_abroad", "hh_n_of", "hh_size", "households", "persons", "stratum", "pi",
                "weight", "frame_n", "sample_n", "certainty"]
FLOAT_FORMAT = "%.12g"


def sample_table(draw: Any) -> pd.DataFrame:
    """The list of a :class:`~migdata.indicators.frames.SurveyDraw` as it is written."""
    lst = draw.list.reset_index(drop=True).copy()
    lst.insert(0, "list_no", range(1, len(lst) + 1))
    return lst[[c for c in LIST_COLUMNS if c in lst.columns]]


def about_table(draw: Any) -> pd.DataFrame:
    """How the sample was drawn, one item a row (the ``about`` sheet)."""
    from migdata.indicators.frames import FRAMES

    items = [("survey", draw.survey), ("frame", f"{draw.frame}: {FRAMES[draw.frame].title}"),
             ("source", draw.source), ("strata", draw.strata_level or "none"),
             ("method", "simple random sampling without replacement within strata" if draw.method == "srs"
              else f"PPS systematic sampling on {draw.size} within strata"),
             ("seed", draw.seed), ("units drawn", len(draw.list)),
             ("frame units", int(draw.strata["frame_n"].sum())),
             ("weights", "weight = 1 / pi; frame_n is the stratum's frame count (the FPC)"),
             ("summary", draw.summary())]
    return pd.DataFrame(items, columns=["item", "value"]).astype({"value": object})


def write_sample_list(draw: Any, out: str | os.PathLike[str]) -> list[Path]:
    """Write the list, the strata table and the workbook of ``draw`` (see the module docstring);
    ``out`` is the list's CSV path (``.csv`` added when missing). Returns the files written."""
    out = Path(out)
    if out.suffix.lower() != ".csv":
        out = out.with_name(out.name + ".csv")
    lst, strata = sample_table(draw), draw.strata.reset_index(drop=True)
    files = [write_table_csv(lst, out, float_format=FLOAT_FORMAT),
             write_table_csv(strata, out.with_name(out.stem + "_strata.csv"), float_format=FLOAT_FORMAT),
             write_sheets_xlsx({"sample": lst, "strata": strata, "about": about_table(draw)},
                               out.with_suffix(".xlsx"))]
    return files


__all__ = ["LIST_COLUMNS", "sample_table", "about_table", "write_sample_list"]
