"""Reliability flags for survey estimates, from a named and configurable policy.

A policy says when an estimate may be published as is, with a caution, or must be suppressed,
from its coefficient of variation (CV = SE / |estimate|) and its unweighted sample size.
The default follows the rule proposed for PSA-style tables: publish if CV <= 20 %, caution if
CV <= 30 %, suppress above 30 % or when fewer than 30 sample units stand behind the estimate.

Complete counts (census, CBMS) have no sampling error: their rows are flagged
``"complete_count"`` and never suppressed on CV grounds (small-cell disclosure control is a
separate step, in ``migdata.publish``).

Example:
    >>> import numpy as np
    >>> flag(np.array([0.05, 0.25, 0.5, 0.05]), np.array([100, 100, 100, 10])).tolist()
    ['publish', 'caution', 'suppress', 'suppress']
    >>> strict = ReliabilityPolicy(cv_publish=0.15, cv_caution=0.25, min_n=50, name="strict")
    >>> flag(0.2, 60, strict).tolist()
    ['caution']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from migdata.errors import UsageError

PUBLISH = "publish"
CAUTION = "caution"
SUPPRESS = "suppress"
COMPLETE_COUNT = "complete_count"
FLAGS = (PUBLISH, CAUTION, SUPPRESS, COMPLETE_COUNT)


@dataclass(frozen=True)
class ReliabilityPolicy:
    """Thresholds of a reliability policy (CVs as fractions: 0.2 means 20 %).

    Example:
        >>> ReliabilityPolicy().name
        'psa_proposed'
    """

    cv_publish: float = 0.20
    cv_caution: float = 0.30
    min_n: int = 30
    name: str = "psa_proposed"

    def __post_init__(self) -> None:
        problem = None
        if not (0 < self.cv_publish <= self.cv_caution):
            problem = f"cv_publish={self.cv_publish} and cv_caution={self.cv_caution}"
        elif self.min_n < 0:
            problem = f"min_n={self.min_n}"
        if problem:
            raise UsageError("MD312", name=self.name, problem=problem)


DEFAULT_POLICY = ReliabilityPolicy()

#: Named policies users can pick by name (``policy="psa_proposed"``).
POLICIES: dict[str, ReliabilityPolicy] = {DEFAULT_POLICY.name: DEFAULT_POLICY}


def get_policy(policy: ReliabilityPolicy | str | None) -> ReliabilityPolicy:
    """A policy object from a policy, a registered name, or None (the default policy)."""
    if policy is None:
        return DEFAULT_POLICY
    if isinstance(policy, ReliabilityPolicy):
        return policy
    if policy in POLICIES:
        return POLICIES[policy]
    raise UsageError("MD307", what="Reliability policy", value=policy, choices=", ".join(POLICIES))


def flag(cv: npt.ArrayLike, n: npt.ArrayLike, policy: ReliabilityPolicy | str | None = None,
         complete_count: bool = False) -> np.ndarray:
    """The reliability flag of each estimate (an array of strings, one per element of ``cv``).

    A CV that is missing or infinite (an estimate of 0, an empty domain) gives ``"suppress"``.
    With ``complete_count=True`` every row is ``"complete_count"``: no sampling error, no
    CV-based suppression.
    """
    pol = get_policy(policy)
    cv_arr = np.atleast_1d(np.asarray(cv, dtype=float))
    n_arr = np.broadcast_to(np.atleast_1d(np.asarray(n, dtype=float)), cv_arr.shape)
    if complete_count:
        return np.full(cv_arr.shape, COMPLETE_COUNT, dtype=object)
    out = np.full(cv_arr.shape, SUPPRESS, dtype=object)
    ok = np.isfinite(cv_arr) & (n_arr >= pol.min_n)
    out[ok & (cv_arr <= pol.cv_caution)] = CAUTION
    out[ok & (cv_arr <= pol.cv_publish)] = PUBLISH
    return out
