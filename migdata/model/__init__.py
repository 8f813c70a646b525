"""The tidy household model: code lists, schema, validation, import report and dataset store.

Example:
    >>> from migdata.model import HouseholdData, validate, age_group
"""

from migdata.model.agegroups import age_group
from migdata.model.data import HouseholdData, load, read_manifest
from migdata.model.report import ImportReport, Problem
from migdata.model.validate import validate

__all__ = ["HouseholdData", "ImportReport", "Problem", "age_group", "load", "read_manifest", "validate"]
