"""CSPro reader: dictionaries (see :mod:`migdata.readers.cspro_dictionary`) and fixed-width data."""

from __future__ import annotations

from migdata.readers.cspro_dictionary import (  # noqa: F401  (public API)
    CsproDictionary,
    Item,
    Level,
    Record,
    Value,
    ValueSet,
    parse_dictionary_text,
    read_dictionary,
)
