"""Shared test fixtures: where the real third-party files are, and skips when they are absent."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MIGDATA_REALDATA", ROOT.parent / "shared" / "realdata"))
SAMPLE_DATA = ROOT / "sample_data"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The ../shared/realdata folder; tests that use it are skipped when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real third-party files not found at {REALDATA} (set MIGDATA_REALDATA)")
    return REALDATA


def realfile(*parts: str) -> Path:
    """A file under realdata, or skip the test with a reason when it is absent."""
    p = REALDATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"optional real file absent: {p}")
    return p


def have_r_survey() -> bool:
    if shutil.which("Rscript") is None:
        return False
    r = subprocess.run(["Rscript", "-e", "library(survey)"], capture_output=True)
    return r.returncode == 0


@pytest.fixture(scope="session")
def rscript() -> str:
    """Path of Rscript with the survey package, or skip."""
    if not have_r_survey():
        pytest.skip("Rscript with the R 'survey' package is not installed (apt-get install r-cran-survey)")
    return shutil.which("Rscript")
