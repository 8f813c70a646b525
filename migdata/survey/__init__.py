"""Survey design and design-based estimation (Taylor linearisation, as R ``survey``).

Example:
    >>> import pandas as pd
    >>> from migdata.survey import Design
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "w": [1.0, 1, 2, 2], "s": [1, 1, 2, 2]})
    >>> Design(df, weights="w", strata="s").mean("y")[["estimate", "n"]].values.tolist()
    [[2.8333333333333335, 4.0]]
"""

from migdata.survey.design import Design, Domains

__all__ = ["Design", "Domains"]
