"""RT01 (return migrants, proxy) on CBMS-like data, which has no explicit return item."""

import pandas as pd

from migdata.indicators import compute, not_computable
from migdata.model import HouseholdData, validate


def test_rt01_uses_residence_abroad_five_years_ago_when_there_is_no_return_item():
    hh = pd.DataFrame({"hh_id": ["A", "B"], "weight": 1.0, "source": "cbms",
                       "psgc": ["0401001001", "0401001002"]})
    pp = pd.DataFrame({
        "hh_id": ["A", "A", "A", "B", "B", "B"], "line_no": [1, 2, 3, 1, 2, 3],
        "sex": ["male", "female", "male", "female", "male", "female"],
        "age": [50, 45, 20, 33, 30, 8],
        "relationship": ["head", "spouse", "child", "head", "spouse", "child"],
        "of_status": ["resident", "resident", "ofw_contract", "resident", "resident", None],
        "res_5y": ["abroad", "same", "abroad", "same", "abroad", "same"],
    })
    data = validate(HouseholdData({"households": hh, "persons": pp},
                                  provenance={"complete_count": True}))
    t = compute(data, ids=["RT01"], level="region", by=[])
    assert "RT01" not in set(not_computable(t).get("indicator_id", []))
    row = t[(t.indicator_id == "RT01") & (t.area_level == "region")]
    # hand count: persons 15+ = A1, A2, A3, B1, B2 (5); residents who lived abroad 5 years ago:
    # A1 and B2 (A3 lived abroad but is an OFW now) -> 2 / 5 = 40 %
    assert float(row["estimate"].iloc[0]) == 40.0
