"""Synthetic CALABARZON sample data in the real file formats (CBMS 2022 fixed width, SPSS survey, Kobo).

Example:
    >>> from migdata.sample import generate
    >>> callable(generate)
    True
"""

from migdata.sample.dataset import generate

__all__ = ["generate"]
