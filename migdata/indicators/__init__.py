"""Migration indicators: the catalogue (``catalogue.toml``), derived attributes and the evaluator.

Example:
    >>> from migdata.indicators import catalogue, compute
    >>> len(catalogue()) >= 40
    True
    >>> table = compute(migdata.load("store"), level="city", by=["sex", "age_group"])  # doctest: +SKIP
"""

from migdata.indicators.catalogue import Indicator, catalogue, catalogue_text, metadata
from migdata.indicators.evaluate import LEVELS, availability, compute, not_computable

__all__ = ["Indicator", "LEVELS", "availability", "catalogue", "catalogue_text", "compute", "metadata", "not_computable"]
