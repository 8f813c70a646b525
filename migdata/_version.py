"""The version of migdata (apart from the package face, so that low modules need not import it)."""

__version__ = "0.1.0"
