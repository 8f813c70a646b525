"""migdata: local migration data, from source files to indicator tables and reports."""

__version__ = "0.1.0"
