"""Source profiles: TOML files mapping a source's raw tables onto the tidy model.

The shipped profiles live beside this file (``<name>.toml``); a statistician's own profile is
any ``.toml`` file passed by path. ``migdata/profiles/README.md`` explains the format.

Example:
    >>> "lfs_puf_2022" in list_profiles()["name"].tolist()
    True
    >>> load_profile("lfs_puf_2022").reader
    'cspro'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from migdata.errors import MigdataError, UsageError
from migdata.profiles.engine import Profile, apply_profile, parse_profile

__all__ = ["Profile", "apply_profile", "list_profiles", "load_profile", "parse_profile", "profiles_text"]


def _shipped() -> dict[str, Path]:
    root = resources.files("migdata.profiles")
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir()
            if p.name.endswith(".toml") and not p.name.startswith("_")}


def load_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by name (``"lfs_puf_2022"``) or a profile file by path.

    Raises :class:`~migdata.errors.UsageError` ``MD500`` naming the known profiles when neither
    exists, and :class:`~migdata.errors.DataError` ``MD501`` when the file is not a valid profile.
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    shipped = _shipped()
    key = str(name_or_path)
    if key in shipped:
        path = shipped[key]
    else:
        path = Path(key)
        if not path.is_file():
            raise UsageError("MD500", value=key, choices=", ".join(sorted(shipped)))
    return parse_profile(path.read_text(encoding="utf-8"), str(path))


def list_profiles() -> pd.DataFrame:
    """The shipped profiles: name, title, reader, source, round, complete_count, path
    (what ``migdata profiles`` prints)."""
    rows = []
    for name, path in sorted(_shipped().items()):
        try:
            p = parse_profile(path.read_text(encoding="utf-8"), str(path))
        except MigdataError as exc:  # one broken file must not hide the others
            rows.append({"name": name, "title": f"(invalid profile: {exc.message})", "reader": "",
                         "source": "", "round": "", "complete_count": False, "path": str(path)})
            continue
        rows.append({"name": p.name, "title": p.title, "reader": p.reader, "source": p.source,
                     "round": p.round, "complete_count": p.complete_count, "path": str(path)})
    return pd.DataFrame(rows, columns=["name", "title", "reader", "source", "round", "complete_count", "path"])


def profiles_text() -> str:
    """``list_profiles()`` as a short text table for the terminal."""
    df = list_profiles()
    if df.empty:
        return "No profiles found."
    lines = [f"{'name':<22}{'reader':<10}{'round':<10}title"]
    for r in df.itertuples():
        lines.append(f"{r.name:<22}{r.reader:<10}{r.round:<10}{r.title}")
    return "\n".join(lines)
