"""Key checks of ``validate`` (MD107-MD112, MD115) against a plain-Python reading of the rules.

``validate`` checks keys on integer codes (``migdata._kernels.keys.HouseholdKeys``, tested against
pandas in ``test_kernels.py``); the reference below walks the rows one by one with dicts and
sets, as the rules are written in ``model/report.py``:
missing keys rejected; later duplicate household ids and (hh_id, line_no) pairs rejected; a
person whose household id has no kept household row is an orphan; a kept household with more
than one head is reported (kept under ``lenient``, rejected otherwise); a kept household with no
kept person is rejected; persons of households rejected after the orphan check go too.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from migdata.model import HouseholdData, validate


# few distinct values, so that duplicates, orphans, two heads and cascades are all common
IDS = st.sampled_from(["a", "b", "c", "d", None])
LINES = st.sampled_from([1, 2, 3, 4, None])
RELS = st.sampled_from(["head", "head", "child"])


def reference(hh: list[str | None], pp: list[tuple[str | None, int | None, str]], policy: str
              ) -> set[tuple[str, str, int]]:
    """(code, table, 1-based row) of every key problem, computed row by row."""
    out: set[tuple[str, str, int]] = set()
    hh_rej = [h is None for h in hh]
    out |= {("MD107", "households", i + 1) for i, r in enumerate(hh_rej) if r}
    pp_rej = [h is None or ln is None for h, ln, _ in pp]
    out |= {("MD107", "persons", i + 1) for i, r in enumerate(pp_rej) if r}
    seen: set = set()
    for i, h in enumerate(hh):
        if h in seen and not hh_rej[i]:
            out.add(("MD108", "households", i + 1))
            hh_rej[i] = True
        seen.add(h)
    seen = set()
    for i, (h, ln, _) in enumerate(pp):
        if (h, ln) in seen and not pp_rej[i]:
            out.add(("MD109", "persons", i + 1))
            pp_rej[i] = True
        seen.add((h, ln))
    kept = {h for h, r in zip(hh, hh_rej) if not r}
    for i, (h, _, _) in enumerate(pp):
        if not pp_rej[i] and h not in kept:
            out.add(("MD110", "persons", i + 1))
            pp_rej[i] = True
    heads = Counter(h for (h, _, rel), r in zip(pp, pp_rej) if not r and rel == "head")
    for i, h in enumerate(hh):
        if not hh_rej[i] and heads[h] > 1:
            out.add(("MD112", "households", i + 1))
            if policy != "lenient":
                hh_rej[i] = True
    members = {h for (h, _, _), r in zip(pp, pp_rej) if not r}
    for i, h in enumerate(hh):
        if not hh_rej[i] and h not in members:
            out.add(("MD111", "households", i + 1))
            hh_rej[i] = True
    kept = {h for h, r in zip(hh, hh_rej) if not r}
    for i, (h, _, _) in enumerate(pp):
        if not pp_rej[i] and h not in kept:
            out.add(("MD115", "persons", i + 1))
    return out


@settings(max_examples=400, deadline=None)
@example(hh=["a"], pp=[("a", 1, "head"), ("a", 2, "head")], policy="reject", ordered=False)  # MD112, MD115
@given(hh=st.lists(IDS, min_size=1, max_size=8),
       pp=st.lists(st.tuples(IDS, LINES, RELS), min_size=1, max_size=14),
       policy=st.sampled_from(["lenient", "reject"]), ordered=st.booleans())
def test_key_checks_match_a_row_by_row_reading_of_the_rules(hh, pp, policy, ordered):
    if ordered:  # as files come: unique households in id order, members grouped in that order
        hh = sorted({h for h in hh if h is not None}) or ["a"]
        pp = sorted(pp, key=lambda r: (r[0] is None, r[0] or ""))
    households = pd.DataFrame({"hh_id": hh, "weight": 1.0, "source": "t",
                               "_source_row": range(1, len(hh) + 1)})
    persons = pd.DataFrame({"hh_id": [p[0] for p in pp], "line_no": pd.array([p[1] for p in pp], dtype="Int32"),
                            "sex": "female", "age": 30, "relationship": [p[2] for p in pp],
                            "_source_row": range(1, len(pp) + 1)})
    out = validate(HouseholdData({"households": households, "persons": persons}), policy=policy)
    assert {(p.code, p.table, p.source_row) for p in out.report.problems} == reference(hh, pp, policy)
    rejected = {t: {p.source_row for p in out.report.problems if p.table == t and p.action == "rejected"}
                for t in ("households", "persons")}
    assert out.report.counts["households"]["kept"] == len(hh) - len(rejected["households"])
    assert out.report.counts["persons"]["kept"] == len(pp) - len(rejected["persons"])


def test_duplicate_person_line_is_rejected_at_its_row():
    # hand count: h1 has line 1 twice (rows 2 and 4); the second is the duplicate
    households = pd.DataFrame({"hh_id": ["h1"], "weight": [1.0], "source": ["t"], "_source_row": [1]})
    persons = pd.DataFrame({"hh_id": ["h1", "h1", "h1"], "line_no": [1, 2, 1], "sex": "male",
                            "age": [40, 10, 41], "relationship": ["head", "child", "spouse"],
                            "_source_row": [2, 3, 4]})
    out = validate(HouseholdData({"households": households, "persons": persons}))
    [p] = out.report.problems
    assert (p.code, p.source_row, p.column, p.value, p.action) == ("MD109", 4, "line_no", 1, "rejected")
    assert out.report.counts["persons"] == {"read": 3, "kept": 2, "rejected": 1}
