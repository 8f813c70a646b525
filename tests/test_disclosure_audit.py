"""The disclosure audit of issue 16, re-expressed for the cell-key method, on a synthetic but
realistic cube (tests/ckm_audit.py: 12 barangays of 25-600 persons in 2 provinces, OFWs about 4 %
of adults, six destinations, so most barangay x sex x age cells hold 0-5 OFWs).

Every table the CLI offers for one indicator is published with ``control`` (k = 3, default D and
V): every level, ``by`` in {none, sex, urban_rural, age_group, sex+age_group}, the age-group
tables in every named scheme and in the cut points of the CLI's help (0,15,30,60). The attacker
knows D, that no count is negative, and every relation (categories of each ``by`` column and of a
distribution add up to their total, areas to their parent, age groups of one scheme to those of
another); they solve linear programs for the least and greatest value of each true count of 1 or 2
(numerators and denominators, published or not), and run iterated subtraction over the explicit
relations. No such count may be pinned: its feasible interval must be at least 1 wide.

Two controls show the attack has teeth: without noise it pins every small count, and with weak
noise (D = 1, V = 0.6, no blocking) it pins some (13 of 331 small counts).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from migdata.publish.disclosure import control, parameters

sys.path.insert(0, str(Path(__file__).parent))
import ckm_audit as audit  # noqa: E402

SCHEMES = audit.SCHEMES_AUDITED
TABLES = [([], ["broad"]), (["sex"], ["broad"]), (["urban_rural"], ["broad"]), (["age_group"], SCHEMES),
          (["sex", "age_group"], SCHEMES)]


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return audit.population(seed=16, barangays=12)


@pytest.fixture(scope="module")
def hamlet() -> pd.DataFrame:
    return audit.population(seed=16, barangays=6)


def publish_all(pp: pd.DataFrame, spec: audit.Spec, tables=TABLES, publish=None) -> list:
    publish = publish or (lambda raw: control(raw, k=3))
    return [(by, sc, publish(audit.cube(pp, spec, by, sc))) for by, schemes in tables for sc in schemes]


def attack(pp: pd.DataFrame, spec: audit.Spec, D: int, tables=TABLES, publish=None,
           schemes=SCHEMES) -> tuple[int, int, int, int]:
    """(small counts audited, pinned by the linear programs, pinned by iterated subtraction,
    cleared by a one-unit change without a program)."""
    published = publish_all(pp, spec, tables, publish)
    c = audit.cells(pp, spec, published, schemes)
    f = c.frame
    small = np.flatnonzero((f["true"] >= 1) & (f["true"] <= 2))
    lp = audit.lp_intervals(c, spec, D, small)
    lo, hi = audit.propagate(c, D, audit.relations(c, schemes))
    # every value the programs reached is one subtraction allows (subtraction is the weaker attack)
    assert (lp["low"].to_numpy() >= lo[small] - 1e-6).all() and (lp["high"].to_numpy() <= hi[small] + 1e-6).all()
    return len(small), int(lp["pinned"].sum()), int(((hi - lo)[small] < 1).sum()), int(lp["certified"].sum())


@pytest.mark.parametrize("ind", ["OF03", "OF05"])
def test_no_small_count_is_pinned_in_any_table_the_cli_offers(people, ind):
    D = parameters(3)[0]
    audited, pinned_lp, pinned_sub, certified = attack(people, audit.SPECS[ind], D)
    print(f"{ind}: audited {audited} true counts of 1-2 across {sum(len(s) for _, s in TABLES)} tables "
          f"({certified} cleared by a one-unit change, the rest by linear programs); pinned by LP "
          f"{pinned_lp}, by subtraction {pinned_sub}")
    assert audited >= 500, audited  # the cube is sparse enough for the audit to mean something
    assert pinned_lp == 0 and pinned_sub == 0


def _true_values(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.assign(numerator=raw["units"], suppressed=False)


def test_control_without_noise_every_small_count_is_pinned(hamlet):
    tables = [(["sex", "age_group"], ["broad"])]
    audited, pinned_lp, pinned_sub, _ = attack(hamlet, audit.SPECS["OF03"], 0, tables, _true_values, ["broad"])
    assert audited > 0 and pinned_lp == audited and pinned_sub == audited


def test_control_weak_noise_is_broken(hamlet):
    tables = [(["sex"], ["broad"]), (["sex", "age_group"], ["broad", "five_year"])]
    schemes = ["broad", "five_year"]
    audited, pinned_lp, pinned_sub, _ = attack(hamlet, audit.SPECS["OF03"], 1, tables,
                                                lambda raw: control(raw, k=1, D=1, V=0.6), schemes)
    assert audited > 0 and pinned_lp > 0 and pinned_sub <= pinned_lp
    # the one-unit-change certificate never clears a cell the exact programs pin
    spec = audit.SPECS["OF03"]
    c = audit.cells(hamlet, spec, publish_all(hamlet, spec, tables, lambda raw: control(raw, k=1, D=1, V=0.6)),
                    schemes)
    small = np.flatnonzero((c.frame["true"] >= 1) & (c.frame["true"] <= 2))
    exact = audit.lp_intervals(c, spec, 1, small, certificates=False)
    cert = audit.certify(c, spec, 1, small)
    assert exact["pinned"].sum() == pinned_lp and cert.any() and not (cert & exact["pinned"].to_numpy()).any()


def test_the_synthetic_cube_counts_the_persons(people):
    # the stand-in for the evaluator: region totals are plain counts of the persons
    t = audit.cube(people, audit.SPECS["OF03"], ["sex"])
    r = t[(t["area_level"] == "region") & (t["sex"] == "Total")].iloc[0]
    adults = people[people["age"] >= 15]
    assert (r["n"], r["units"]) == (len(adults), adults["is_ofw"].sum())
    assert r["_ck_den"] == (adults["rkey"].sum() % 2**32) / 2**32
    f = t[(t["area_level"] == "barangay") & (t["sex"] == "female")]
    assert f["n"].sum() == (adults["sex"] == "female").sum()
