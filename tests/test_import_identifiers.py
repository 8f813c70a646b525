"""--keep-identifiers reaches the readers that strip identifiers themselves (Kobo GPS columns)."""

from __future__ import annotations

from pathlib import Path

import pytest

from migdata.importer import read_raw
from migdata.profiles import load_profile
from migdata.model import ImportReport

RIDER = Path(__file__).resolve().parents[1] / "sample_data" / "kobo" / "cbms_migration_rider.xlsx"


def _gps_columns(tables):
    return [c for t in tables.values() for c in t.columns if "_geolocation" in c or c.endswith("_latitude")]


def test_kobo_gps_dropped_by_default_and_kept_on_request(tmp_path):
    if not RIDER.exists():
        pytest.skip("bundled rider export absent")
    import openpyxl

    # add Kobo's _geolocation column (as every Kobo XLSX export has) to a copy of the bundled export
    wb = openpyxl.load_workbook(RIDER)
    ws = wb.worksheets[0]
    col = ws.max_column + 1
    ws.cell(row=1, column=col, value="_geolocation")
    for r in range(2, ws.max_row + 1):
        ws.cell(row=r, column=col, value="14.2, 121.1")
    path = tmp_path / "rider.xlsx"
    wb.save(path)
    prof = load_profile("kobo_cbms_rider")
    dropped, _ = read_raw([path], prof, ImportReport())
    kept, _ = read_raw([path], prof, ImportReport(), keep_identifiers=True)
    assert _gps_columns(dropped) == []
    assert _gps_columns(kept) == ["_geolocation"]
