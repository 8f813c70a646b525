"""migdata: local migration data, from source files to indicator tables and reports.

Example:
    >>> import migdata
    >>> data = migdata.load("sample_data/store")          # doctest: +SKIP
    >>> data.persons.groupby("sex").size()                 # doctest: +SKIP
"""

__version__ = "0.1.0"

from migdata.model.data import HouseholdData, load  # noqa: E402

__all__ = ["HouseholdData", "load", "__version__"]
