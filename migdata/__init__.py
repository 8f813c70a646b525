"""migdata: local migration data, from source files to indicator tables and reports.

The public API at the top level:

- :func:`import_files` reads source files with a profile into a validated dataset;
- :func:`load` opens a saved dataset store (a :class:`HouseholdData`) or a local migration
  database folder (a :class:`Database` of every stream and round, linked);
- ``data.frame(unit)`` and ``data.design(unit)`` give a dataset's analysis frame and its
  survey design (every estimate in migdata is made on them);
- :func:`compute` gives the indicator tables, ready to publish (disclosure control applied).

Example:
    >>> import migdata
    >>> data = migdata.import_files(["sample_data/cbms_2022_hpq.dat"], "cbms_2022_hpq")  # doctest: +SKIP
    >>> data.save("store")                                                           # doctest: +SKIP
    >>> data = migdata.load("store")                                                 # doctest: +SKIP
    >>> data.design("person").proportion("sex", by="province")                       # doctest: +SKIP
    >>> table = migdata.compute(data, level="city", by=["sex"])                      # doctest: +SKIP
"""

from typing import Any

from migdata._version import __version__  # noqa: E402

__all__ = ["Database", "HouseholdData", "compute", "import_files", "load", "__version__"]


def __getattr__(name: str) -> Any:
    # loaded on first use, so that importing one stage (migdata.readers...) loads no later one
    if name == "HouseholdData":
        from migdata.model.data import HouseholdData
        return HouseholdData
    if name in ("Database", "load"):
        from migdata.model.database import Database, open_path
        return Database if name == "Database" else open_path
    if name == "import_files":
        from migdata.importer import import_files
        return import_files
    if name == "compute":
        from migdata.publish.tables import compute
        return compute
    raise AttributeError(f"module 'migdata' has no attribute {name!r}")
