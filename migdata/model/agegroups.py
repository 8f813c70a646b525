"""Age groupings used in PSA and CBMS tables, as ordered Categoricals.

Schemes (DOMAIN.md §4.3):

- ``five_year``: PSA five-year groups 0-4, 5-9, ..., 95-99, 100+ (21 groups);
- ``broad``: 0-14, 15-24, 25-34, 35-44, 45-54, 55-64, 65+;
- ``children``: 0-17 and 18+;  ``working_age``: 0-14 and 15+;  ``seniors``: 0-59 and 60+;
- ``school_age``: CBMS Network bands 6-11, 12-17 (others outside);
- a list of cut points, e.g. ``[0, 15, 30, 60]`` → 0-14, 15-29, 30-59, 60+ (the last group is open).

Ages outside every group (negative, missing, or below the first cut) give NA.

Example:
    >>> age_group([3, 17, 64, 65, None], "broad").tolist()
    ['0-14', '15-24', '55-64', '65+', nan]
    >>> age_group([10, 40], [0, 18, 60]).tolist()
    ['0-17', '18-59']
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from migdata._kernels.codes import interval_codes
from migdata.errors import UsageError

SCHEMES: dict[str, list[int]] = {
    "five_year": list(range(0, 101, 5)),
    "broad": [0, 15, 25, 35, 45, 55, 65],
    "children": [0, 18],
    "working_age": [0, 15],
    "seniors": [0, 60],
}
# Closed schemes: the last group ends at a given age instead of being open.
CLOSED: dict[str, tuple[list[int], int]] = {
    "school_age": ([6, 12], 18),
}


def _labels(cuts: Sequence[int], upper: int | None) -> list[str]:
    out = []
    for i, lo in enumerate(cuts):
        hi = cuts[i + 1] - 1 if i + 1 < len(cuts) else (None if upper is None else upper - 1)
        out.append(f"{lo}+" if hi is None else f"{lo}-{hi}")
    return out


def age_group(age: Iterable[float] | pd.Series, scheme: str | Sequence[int] = "broad") -> pd.Series:
    """Ages as an ordered Categorical of the named ``scheme`` or of user cut points."""
    upper: int | None = None
    if isinstance(scheme, str):
        if scheme in SCHEMES:
            cuts = SCHEMES[scheme]
        elif scheme in CLOSED:
            cuts, upper = CLOSED[scheme]
        else:
            raise UsageError("MD004", what="age-group scheme", value=scheme,
                             choices=", ".join([*SCHEMES, *CLOSED]) + ", or a list of cut points")
    else:
        cuts = [int(c) for c in scheme]
        if len(cuts) == 0 or any(b <= a for a, b in zip(cuts, cuts[1:])) or cuts[0] < 0:
            raise UsageError("MD004", what="age cut points", value=list(scheme),
                             choices="increasing whole numbers starting at 0 or more, e.g. 0,15,30,60")
    labels = _labels(cuts, upper)
    codes = interval_codes(age if isinstance(age, pd.Series) else pd.Series(age), np.asarray(cuts), upper)
    index = age.index if isinstance(age, pd.Series) else None
    cat = pd.Categorical.from_codes(codes, categories=labels, ordered=True)
    return pd.Series(cat, index=index, name="age_group")
