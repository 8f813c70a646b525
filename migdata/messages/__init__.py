"""Message catalogue files (TOML), one per package; read by :mod:`migdata.errors`."""
