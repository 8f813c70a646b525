"""PSGC areas: the shipped reference, code normalisation, roll-up, search and release crosswalks.

Example:
    >>> from migdata import areas
    >>> areas.normalize(403405000)
    '0403405000'
    >>> areas.rollup(["0431200001"], "province").tolist()
    ['0405600000']
"""

from migdata.areas.codes import normalize, normalize_codes, ppmm_to_psgc, read_code, read_distinct, rollup
from migdata.areas.crosswalk import crosswalk, read_release, translate
from migdata.areas.reference import (children, describe, index, lookup, name, reference,
                                     release, search, search_text)
from migdata.areas.levels import LEVELS
from migdata.areas.structure import PSGC_LEVELS

__all__ = ["LEVELS", "PSGC_LEVELS", "children", "crosswalk", "describe", "index", "lookup", "name", "normalize",
           "normalize_codes", "ppmm_to_psgc", "read_code", "read_distinct", "read_release", "reference",
           "release", "rollup", "search", "search_text", "translate"]
