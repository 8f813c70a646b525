"""Age groupings against the PSA/CBMS definitions in DOMAIN.md §4.3 (boundaries checked by hand)."""

import pandas as pd
import pytest

from migdata.errors import UsageError
from migdata.model import age_group


def test_five_year_groups_boundaries():
    g = age_group([0, 4, 5, 9, 95, 99, 100, 120], "five_year")
    assert g.tolist() == ["0-4", "0-4", "5-9", "5-9", "95-99", "95-99", "100+", "100+"]
    assert len(g.cat.categories) == 21 and g.cat.ordered


def test_broad_and_legal_groups():
    assert age_group([14, 15, 24, 25, 64, 65], "broad").tolist() == [
        "0-14", "15-24", "15-24", "25-34", "55-64", "65+"]
    assert age_group([17, 18], "children").tolist() == ["0-17", "18+"]
    assert age_group([14, 15], "working_age").tolist() == ["0-14", "15+"]
    assert age_group([59, 60], "seniors").tolist() == ["0-59", "60+"]


def test_custom_cut_points_and_missing():
    g = age_group(pd.Series([None, -1, 5, 29, 30]), [0, 15, 30])
    assert g.astype(object).where(g.notna(), None).tolist() == [None, None, "0-14", "15-29", "30+"]


def test_bad_scheme():
    with pytest.raises(UsageError):
        age_group([1], "decades")
    with pytest.raises(UsageError):
        age_group([1], [10, 5])
