"""Disclosure control for complete-count tables (CBMS, census): the cell-key method (CKM).

Every published count carries a small random error that depends only on the cell: on its true
count and on its *cell key*, the fractional part of the sum of the secret record keys of the units
in it (one uniform key per person or household, made from the dataset's secret key; see the
evaluator). A cell made of the same units therefore gets the same published value in every table,
whatever else the table shows (any ``by`` column, any age cut points, any level), so comparing or
subtracting tables reveals nothing a single table does not; and cell keys add across partitions, so
the method runs on a cube reduced from partitions. This is the method of the Australian Bureau of
Statistics' TableBuilder (Fraser and Wooton 2005; Thompson, Broadfoot and Elazar 2013), of the 2021
censuses of the UK (ONS) and Germany (Destatis), and of Eurostat's census guidelines.

What a reader can rely on (complete counts):

- A published count differs from the true count by at most ``D`` (3 by default) and by about
  ``sqrt(V)`` (1.4) on average; the error has mean 0 for every count of ``k`` or more, so sums of
  many cells are unbiased. Empty cells stay 0, and no count of 1 to ``k - 1`` is ever published
  (a count shown as 0 may hide 1 to ``D`` units).
- Cells do not add up exactly: a total differs from the sum of its published parts (sex, age
  groups, categories, the areas inside it), each part carrying its own error. Take totals from
  their own row, not by adding rows.
- Shares, means and ratios are computed from the published numerator and denominator, so a share
  can differ from the true share by a few points where the denominator is small; shares are kept
  within 0-100 % (a numerator larger than its published denominator gives 100 %), and the shares of
  a distribution need not add to exactly 100.
- Totals of money (magnitudes) carry an error of 10-20 % of the largest single contribution in the
  cell (the CKM magnitude variant), so no household's amount can be read from a small cell; for a
  large cell this is a small share of the total.
- Medians are not perturbed; a median is shown only where the published count of units it rests
  on is at least ``k + D``, which guarantees it rests on at least ``k`` units whatever the error.
  A ratio whose published denominator is 0 is hidden too (``suppression`` = ``small base``).
- A domain whose published count (``n``) is 0 has no row, like a domain without units: which
  rows exist then depends on published values only. The same holds for the categories of a long
  code list (destination countries), which are not listed in full in every domain: a category
  whose published count is 0 has no row, like a category no unit of the domain has (a short list
  is listed in full, 0 rows included, so its 0 rows say nothing either).
- Nothing in a published table says which cells moved or by how much; ``units`` (what the
  numerator rests on), the cell keys and the largest contributions are not in it.

Why this method and not cell suppression: suppression protects one table at a time, and the CLI
publishes thousands of overlapping tables from one dataset (every level, every ``by``, every age
scheme, categories summing to totals, numerators and denominators); differencing them recovered
hidden cells by the thousand (issue 16). One suppression pattern over the whole cube that can be
published is an NP-hard problem that grows with every table a user may ask for, hides many
non-sensitive cells with each sensitive one, and a flag column tends to betray which cells were
primary. The cell-key method needs no knowledge of the other tables: the same cell always gets the
same error, and nothing is hidden that a reader would have to reason about.

Against differencing: an attacker who knows ``D``, that counts are not negative, and every
relation between the cells of every table the CLI offers (categories adding up to their total,
areas to their parent, age groups of one scheme to another's) and who solves linear programs for
the least and greatest value of each count cannot pin a true count of 1 to ``k - 1``: the audit
checks this on the bundled CBMS sample through ``migdata.compute``
(``tests/test_disclosure_sample.py``: 750 barangays, 17 tables per indicator, over 26,000 true
counts of 1-2 for OF03, none pinned) and on a synthetic cube (``tests/test_disclosure_audit.py``).
The error is random, so this holds with high probability, not with certainty (a combination of
extreme errors can narrow an interval); the maximum-entropy rows make extreme errors rare.

Every path that publishes complete counts calls :func:`control`: ``migdata.compute`` (workbook,
CSV, report, maps, notebooks) through :func:`migdata.publish.tables.protect`, and ``migdata
estimate`` through :mod:`migdata.publish.estimates` (a domain's sums and record keys, so its
numbers are the indicator tables' cells). Rows may name their statistic in a ``statistic`` column
(the ad-hoc estimates) instead of a catalogue ``indicator_id``.

Sample surveys get no noise: their rows keep the reliability flag, and a row flagged ``suppress``
is marked ``suppressed`` (reason ``reliability``); its value, unreliable rather than confidential,
stays in the table and every writer blanks it.

**The perturbation table** (ptable) holds, for each original count ``i``, the probability of every
published value ``j``: ``j`` lies within ``D`` of ``i``, is never negative and never in ``1..js``
(``js = k - 1``); 0 stays 0. Each row is the maximum-entropy distribution with mean ``i``
(unbiased) and variance ``V`` (Marley and Leaver 2011; Giessing 2016, "Computational issues in the
design of transition probabilities and disclosure risk estimation for additive noise", PSD 2016,
LNCS 9867, doi:10.1007/978-3-319-45381-1_18; the construction of the R package ``ptable``). The
maximum-entropy distribution under a mean and a variance constraint has the Gibbs form
``p(v) ~ exp(a v + b v^2)`` over the allowed deviations ``v = j - i``; ``a`` and ``b`` solve the
convex dual, a two-parameter problem solved with ``scipy.optimize``. Where the allowed deviations
cannot reach variance ``V`` with mean 0 (the rows of the small counts ``1..js``, whose targets
skip the blocked values), the variance constraint is dropped and the row is the maximum-entropy
distribution with mean ``i`` alone (as ``ptable`` leaves the variance free for blocked rows).
Every count of ``js + D + 1`` or more uses the same symmetric row. The lookup is deterministic: the
published deviation is the first ``v`` (from ``-D`` up) whose cumulative probability exceeds the
cell key.

**Magnitudes** (totals, the sums of means and ratios): the cell-key variant for continuous
variables (Giessing and Tent 2019, "Concepts for generalising tools implementing the cell key
method to the case of continuous variables", UNECE/Eurostat work session on statistical data
confidentiality; the R package ``cellKey``, ``type = "top_contr"``, ``top_k = 1``): the published
sum is ``x + s * m * top`` with ``top`` the largest absolute single contribution, ``m`` = 0.2 and
``s`` drawn from the cell key with ``mu <= |s| <= 1`` (``mu`` = 0.5, the extra protection that
cellKey applies to sensitive cells, here to every cell, so that even a single contributor's value
is off by at least 10 %). The draw uses a scrambled copy of the cell key (cellKey's
``same_key = FALSE``), so a magnitude's error is unrelated to its count's. Where ``m * top`` is
below 1 (integer values such as net migrants), the sum is perturbed like a count (by the symmetric
ptable row), since a fraction of a unit would round away. A sum never changes sign.

Hand-written because no maintained Python library implements the cell-key method (the reference
implementations are R packages and tau-Argus); everything is vectorised numpy over the whole table.

Example:
    >>> t = ptable(D=3, V=2.0, js=2)
    >>> t.frame().query("i == 1")[["j", "p"]].round(3).values.tolist()
    [[0.0, 0.705], [3.0, 0.181], [4.0, 0.115]]
    >>> import numpy as np
    >>> t.perturb(np.array([0, 1, 1, 40]), np.array([0.9, 0.5, 0.95, 0.5])).tolist()
    [0, 0, 4, 40]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from migdata._kernels.parallel import map_in_threads
from migdata.errors import UsageError
from migdata.indicators.evaluate import HIDDEN_COLUMNS

#: Defaults: maximum deviation (at least k, see :func:`parameters`) and variance of the noise.
DEFAULT_D = 3
DEFAULT_V = 2.0
#: Magnitude noise: share of the largest contribution (m) and its least fraction (mu).
MAGNITUDE_M = 0.2
MAGNITUDE_MU = 0.5
#: Columns only disclosure control reads; they never reach a published table (the estimation's
#: cell keys, largest contributions and sparse-list mark, and ``units``).
HIDDEN = ["units", *HIDDEN_COLUMNS]
REQUIRED = ["indicator_id", "estimate", "n", "flag"]
#: Why a published row has no value.
SMALL_BASE, RELIABILITY = "small base", "reliability"
REASONS = ["", SMALL_BASE, RELIABILITY]
VALUE_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "cv", "numerator", "denominator"]
COMPLETE = "complete_count"


# ----------------------------------------------------------------------------- the ptable
def _maxent(v: np.ndarray, variance: float | None) -> np.ndarray:
    """Maximum-entropy probabilities over deviations ``v`` with mean 0 (and ``variance``).

    The solution has the Gibbs form ``p ~ exp(a v + b v^2)``; (a, b) minimise the convex dual
    ``log sum exp(a v + b v^2) - b V``, whose gradient is (mean, second moment - V). The dual is
    minimised by ``scipy.optimize.minimize`` (trust-exact) and its gradient then brought to zero
    by ``scipy.optimize.root`` (so the mean is 0 to rounding error)."""
    from scipy.optimize import minimize, root

    feats = np.vstack([v, v * v]) if variance is not None else v[None, :]
    target = np.array([0.0, variance]) if variance is not None else np.zeros(1)

    def probs(x: np.ndarray) -> np.ndarray:
        z = x @ feats
        w = np.exp(z - z.max())
        return w / w.sum()

    def dual(x: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ feats
        top = z.max()
        p = np.exp(z - top)
        s = p.sum()
        return float(top + np.log(s) - x @ target), feats @ (p / s) - target

    def hess(x: np.ndarray) -> np.ndarray:
        p = probs(x)
        mean = feats @ p
        return (feats * p) @ feats.T - np.outer(mean, mean)

    x0 = np.zeros(len(target))
    first = minimize(dual, x0, jac=True, hess=hess, method="trust-exact", options={"gtol": 1e-12})
    polished = root(lambda x: dual(x)[1], first.x, jac=hess, method="hybr", options={"xtol": 1e-15})
    # root may stop with "no progress" at machine precision: keep whichever point is closer
    x = min((first.x, polished.x), key=lambda x: float(np.abs(dual(x)[1]).max()))
    return probs(x)


@dataclass(frozen=True)
class PTable:
    """A perturbation table: ``probs[i, c]`` is the probability that original count ``i`` is
    published as ``i + c - D`` (columns: deviations ``-D..D``); the last row serves every count
    from ``len(probs) - 1`` up. Build it with :func:`ptable`."""

    D: int
    V: float
    js: int
    probs: np.ndarray
    how: tuple[str, ...]  # per row: "zero", "mean and variance", "mean only", "fixed"

    @property
    def deviations(self) -> np.ndarray:
        return np.arange(-self.D, self.D + 1)

    @property
    def upper(self) -> np.ndarray:
        """Cumulative probabilities per row (the upper end of each deviation's key interval)."""
        cum = np.cumsum(self.probs, axis=1)
        cum[:, -1] = 1.0  # the last allowed deviation takes any rounding remainder
        return cum

    def frame(self) -> pd.DataFrame:
        """The table as data, one row per (original ``i``, published ``j``) with probability
        ``p`` > 0, deviation ``v`` and the interval ``[p_lower, p_upper)`` of cell keys that
        select it (the layout of ``ptable``'s perturbation tables)."""
        rows = []
        up = self.upper
        for i in range(len(self.probs)):
            lo = 0.0
            for c, v in enumerate(self.deviations):
                p = float(self.probs[i, c])
                if p > 0:
                    rows.append((i, i + v, v, p, lo, float(up[i, c]), self.how[i]))
                    lo = float(up[i, c])
        return pd.DataFrame(rows, columns=["i", "j", "v", "p", "p_lower", "p_upper", "rule"]).astype(
            {"i": "int64", "j": "float64", "v": "int64"})

    def deviation(self, counts: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """The deviation of each (count, key): vectorised lookup, one comparison per deviation.

        Equals, row by row, ``deviations[np.searchsorted(upper[min(count, last)], key,
        side="right")]`` (tested against it)."""
        counts = np.asarray(counts, dtype=np.int64)
        keys = np.asarray(keys, dtype="float64")
        row = np.minimum(counts, len(self.probs) - 1)
        up = self.upper
        idx = np.zeros(len(counts), dtype=np.int64)
        for c in range(up.shape[1] - 1):  # 2D comparisons of n values: no (n x 2D+1) matrix
            idx += keys >= up[row, c]
        return self.deviations[idx]

    def perturb(self, counts: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Published counts for true ``counts`` with cell ``keys`` in [0, 1)."""
        counts = np.asarray(counts, dtype=np.int64)
        return counts + self.deviation(counts, keys)


def parameters(k: int = 3, D: int | None = None, V: float | None = None) -> tuple[int, float, int]:
    """Checked (D, V, js) for threshold ``k``: ``js = k - 1``; ``D`` defaults to the larger of
    :data:`DEFAULT_D` and ``k`` (so that every count, ``k`` included, can move both ways),
    ``V`` to :data:`DEFAULT_V`."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise UsageError("MD708", value=k)
    js = int(k) - 1
    D = max(DEFAULT_D, int(k)) if D is None else D
    V = DEFAULT_V if V is None else V
    if not isinstance(D, (int, np.integer)) or isinstance(D, bool) or D < max(1, js):
        raise UsageError("MD714", parameter="D", value=D, rule=f"a whole number of at least {max(1, js)} (k - 1)")
    if isinstance(V, bool) or not isinstance(V, (int, float, np.integer, np.floating)) or not 0 < V < D * D:
        raise UsageError("MD714", parameter="V", value=V, rule=f"a number above 0 and below D squared ({D * D})")
    return int(D), float(V), js


@lru_cache(maxsize=16)
def ptable(D: int = DEFAULT_D, V: float = DEFAULT_V, js: int = 2) -> PTable:
    """The maximum-entropy perturbation table for maximum deviation ``D``, variance ``V`` and
    blocked counts ``1..js`` (see the module docstring)."""
    D, V, js = parameters(js + 1, D, V)
    last = js + D + 1  # from here on every row is the same symmetric distribution
    probs = np.zeros((last + 1, 2 * D + 1))
    how = []
    for i in range(last + 1):
        j = np.arange(max(0, i - D), i + D + 1)
        j = j[(j == 0) | (j > js)] if i > 0 else np.array([0])
        v = (j - i).astype("float64")
        if i == 0 or not (v < 0).any() or not (v > 0).any():
            p, rule = (v == 0).astype("float64"), "zero" if i == 0 else "fixed"
        else:
            # variances reachable with mean 0: between the two deviations nearest 0 (or 0, when
            # 0 is allowed) and the two extremes
            low = 0.0 if (v == 0).any() else -v[v < 0].max() * v[v > 0].min()
            high = -v.min() * v.max()
            ok = low < V < high
            p, rule = _maxent(v, V if ok else None), "mean and variance" if ok else "mean only"
        probs[i, (j - i + D)] = p
        how.append(rule)
    return PTable(D, V, js, probs, tuple(how))


# ----------------------------------------------------------------------------- magnitudes
def _scramble(keys: np.ndarray) -> np.ndarray:
    """A second uniform key from a cell key: the key's 32-bit integer times an odd constant
    (golden-ratio multiplicative hashing, a bijection modulo 2^32), so the magnitude's draw is
    unrelated to the count's draw from the same key."""
    u = (np.asarray(keys, dtype="float64") * 2.0**32).astype(np.uint64)
    return ((u * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)).astype("float64") / 2.0**32


def perturb_magnitude(values: np.ndarray, top: np.ndarray, keys: np.ndarray, table: PTable,
                      m: float = MAGNITUDE_M, mu: float = MAGNITUDE_MU) -> np.ndarray:
    """Published sums: ``x + s * m * |top|`` with ``mu <= |s| <= 1`` from the scrambled cell key
    (sign from its first half, size uniform), or ``x + v`` with ``v`` from the symmetric ptable row
    where ``m * |top| < 1``; 0 where no unit contributes (``top == 0``); never changes sign.

    Example:
        >>> t = ptable(3, 2.0, 2)
        >>> out = perturb_magnitude(np.array([1000.0, 0.0]), np.array([400.0, 0.0]), np.array([0.3, 0.3]), t)
        >>> bool(40 <= abs(out[0] - 1000) <= 80), float(out[1])  # 10-20 % of the top contribution
        (True, 0.0)
    """
    x = np.asarray(values, dtype="float64")
    top = np.abs(np.asarray(top, dtype="float64"))
    u = _scramble(keys)
    sign = np.where(u >= 0.5, 1.0, -1.0)
    size = mu + (1.0 - mu) * ((2.0 * u) % 1.0)
    scale = m * top
    noise = sign * size * scale
    small = np.flatnonzero(scale < 1.0)
    noise[small] = table.deviation(np.full(len(small), len(table.probs) - 1), u[small])
    out = np.where(top > 0, x + noise, x)
    out = np.where((x > 0) & (out < 0), 0.0, out)
    return np.where((x < 0) & (out > 0), 0.0, out)


# ----------------------------------------------------------------------------- the table
def _column(table: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype="float64")[rows]


def _keys(table: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    if name not in table.columns:
        raise UsageError("MD709", columns=name)
    keys = _column(table, name, rows)
    bad = ~((keys >= 0) & (keys < 1))
    if bad.any():
        first = rows[np.flatnonzero(bad)[0]]
        raise UsageError("MD715", column=name, count=int(bad.sum()),
                         id=str(table["indicator_id"].iloc[first]),
                         area=str(table["area_code"].iloc[first]) if "area_code" in table.columns else "?",
                         value=float(keys[np.flatnonzero(bad)[0]]))
    return keys


STATISTICS = ["count", "share", "total", "mean", "ratio", "median"]


def _codes(s: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes and labels of a column (a Categorical's own codes: no text per row)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy().astype(np.int64), [str(c) for c in s.cat.categories]
    codes, uniq = pd.factorize(s.astype(object))
    return codes.astype(np.int64), [str(u) for u in uniq]


def _statistics(table: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's statistic (index in :data:`STATISTICS`) and scale: from a ``statistic``
    column where the table has one (the ad-hoc estimates of ``migdata estimate``, scale 1),
    else from the catalogue entry of its ``indicator_id``."""
    if "statistic" in table.columns:
        codes, labels = _codes(table["statistic"].iloc[rows])
        bad = [x for x in labels if x not in STATISTICS]
        if bad:
            raise UsageError("MD307", what="Statistic", value=bad[0], choices=", ".join(STATISTICS))
        lookup = np.array([STATISTICS.index(x) for x in labels] + [-1])
        return lookup[codes], np.ones(len(rows))
    return _catalogue_statistics(table["indicator_id"].iloc[rows])


def _catalogue_statistics(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    from migdata.indicators.catalogue import catalogue

    cat = catalogue()
    codes, labels = _codes(ids)
    present = np.unique(codes)
    unknown = [labels[c] for c in present if c < 0 or labels[c] not in cat]
    if unknown:
        raise UsageError("MD701", value=unknown[0], choices=", ".join(cat))
    stat = np.array([STATISTICS.index(cat[u].statistic) if u in cat else -1 for u in labels] + [-1])[codes]
    scale = np.array([cat[u].scale if u in cat else 1.0 for u in labels] + [1.0])[codes]
    return stat, scale


def control(table: pd.DataFrame, k: int = 3, D: int | None = None, V: float | None = None) -> pd.DataFrame:
    """The published table: complete-count rows perturbed by the cell-key method, survey rows
    flagged ``suppress`` hidden, and the columns only disclosure control reads dropped.

    Args:
        table: the raw table of :func:`migdata.indicators.compute`; complete-count rows
            (``flag == "complete_count"``) need ``units`` and the cell keys ``_ck_num``/``_ck_den``,
            and magnitude statistics (total, mean, ratio) the largest contributions
            ``_top_num``/``_top_den``.
        k: no published count lies in ``1..k-1`` (``js = k - 1``); medians need ``k + D``.
        D, V: maximum deviation and variance of the noise (see :func:`parameters`).

    Returns a new table with the same rows (``estimate``, ``numerator``, ``denominator``, ``n``,
    the interval and ``suppressed``/``suppression`` rewritten), without ``units``, ``_ck_*`` and
    ``_top_*``; ``attrs["disclosure"]`` names the method and ``k``.

    Example:
        >>> import pandas as pd
        >>> raw = pd.DataFrame({"indicator_id": ["OF02", "OF03"], "flag": "complete_count",
        ...     "estimate": [2.0, 40.0], "numerator": [2.0, 2.0], "denominator": [float("nan"), 5.0],
        ...     "n": [5.0, 5.0], "units": [2.0, 2.0], "_ck_num": [0.8, 0.8], "_ck_den": [0.1, 0.1]})
        >>> out = control(raw, k=3)
        >>> out[["estimate", "numerator", "n"]].values.tolist()
        [[4.0, 4.0, 3.0], [100.0, 4.0, 3.0]]
        >>> "_ck_num" in out or "units" in out
        False
    """
    Dv, Vv, js = parameters(k, D, V)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise UsageError("MD709", columns=", ".join(missing))
    pt = ptable(Dv, Vv, js)
    n = len(table)
    if n <= BLOCK_ROWS:
        out = _control(table, k, pt)
    else:
        # Every rule here is row by row, so the table is protected a block of rows at a time,
        # two blocks at once; a block's arrays also stay below the size the C library maps
        # afresh for each temporary (page faults), which is itself a third of the time.
        edges = list(range(0, n, BLOCK_ROWS)) + [n]
        blocks = [table.iloc[a:b] for a, b in zip(edges, edges[1:])]
        try:
            out = pd.concat(map_in_threads(lambda t: _control(t, k, pt), blocks), ignore_index=True)
        except UsageError:  # the message names the table's first bad row and counts them all
            out = _control(table, k, pt)
    out.attrs = dict(table.attrs)
    out.attrs["disclosure"] = {"method": "cell key", "k": int(k)}
    return out


#: Rows of a table protected at a time (:func:`control`): 8 MB per column of numbers.
BLOCK_ROWS = 1_000_000


def _control(table: pd.DataFrame, k: int, pt: PTable) -> pd.DataFrame:
    """:func:`control` of a block of rows, without the table's attributes."""
    out = table.drop(columns=[c for c in HIDDEN if c in table.columns])
    for c in VALUE_COLUMNS + ["n"]:
        out[c] = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype="float64").copy() if c in table.columns \
            else np.full(len(table), np.nan)
    fcodes, flabels = _codes(table["flag"])
    reason = np.where(fcodes == (flabels.index("suppress") if "suppress" in flabels else -2), 2, 0)
    cc = np.flatnonzero(fcodes == (flabels.index(COMPLETE) if COMPLETE in flabels else -2))
    if len(cc):
        reason[cc] = _perturb_rows(table, out, cc, pt, k)
    hidden = reason > 0
    # a value hidden by disclosure control is not in the published table at all; an unreliable
    # survey estimate is not confidential and stays (every writer blanks a suppressed row)
    for c in VALUE_COLUMNS:
        out.loc[reason == 1, c] = np.nan
    out["suppressed"] = hidden
    out["suppression"] = pd.Categorical.from_codes(reason, categories=pd.Index(REASONS, dtype=object))
    # A domain whose published count is 0 has no row, as a domain without units has none: which
    # rows exist then depends on published counts only, never on a true count of 1..D.
    empty = np.zeros(len(out), dtype=bool)
    empty[cc] = out["n"].to_numpy()[cc] == 0
    if "_sparse" in table.columns:
        # a category of a list not listed in full: a 0 row would tell a hidden 1..D from a true 0
        sparse = table["_sparse"].to_numpy(dtype="float64")[cc] == 1
        empty[cc] |= sparse & (out["numerator"].to_numpy()[cc] == 0)
    out = out[~empty].reset_index(drop=True)
    out.attrs = {}
    return out


def _perturb_rows(table: pd.DataFrame, out: pd.DataFrame, rows: np.ndarray, pt: PTable, k: int) -> np.ndarray:
    """Perturb the complete-count ``rows`` of ``out`` in place; returns their suppression codes."""
    stat, scale = _statistics(table, rows)
    n = _column(table, "n", rows)
    ck_den = _keys(table, "_ck_den", rows)
    n_pub = pt.perturb(np.rint(np.nan_to_num(n)).astype(np.int64), ck_den).astype("float64")
    est = np.full(len(rows), np.nan)
    num_pub = np.full(len(rows), np.nan)
    den_pub = np.full(len(rows), np.nan)
    reason = np.zeros(len(rows), dtype=np.int64)

    counted = stat <= 1  # count, share
    if counted.any():
        sel = np.flatnonzero(counted)
        units = _column(table, "units", rows[sel]) if "units" in table.columns else None
        if units is None:
            raise UsageError("MD709", columns="units")
        num_pub[sel] = pt.perturb(np.rint(np.nan_to_num(units)).astype(np.int64),
                                  _keys(table, "_ck_num", rows[sel]))
        is_share = stat[sel] == 1
        est[sel] = num_pub[sel]
        den_pub[sel] = np.where(is_share, n_pub[sel], np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = 100.0 * np.minimum(num_pub[sel], n_pub[sel]) / n_pub[sel]
        est[sel] = np.where(is_share, np.where(n_pub[sel] > 0, share, np.nan), est[sel])
    magn = (stat >= 2) & (stat <= 4)  # total, mean, ratio
    if magn.any():
        sel = np.flatnonzero(magn)
        for c in ("_top_num",):
            if c not in table.columns:
                raise UsageError("MD709", columns=c)
        num = _column(table, "numerator", rows[sel])
        num_pub[sel] = perturb_magnitude(np.nan_to_num(num), np.nan_to_num(_column(table, "_top_num", rows[sel])),
                                         _keys(table, "_ck_num", rows[sel]), pt)
        st = np.array(STATISTICS, dtype=object)[stat[sel]]
        den_pub[sel] = np.where(st == "mean", n_pub[sel], np.nan)
        ratio = np.flatnonzero(st == "ratio")
        if len(ratio):
            if "_top_den" not in table.columns:
                raise UsageError("MD709", columns="_top_den")
            r = rows[sel[ratio]]
            den_pub[sel[ratio]] = perturb_magnitude(np.nan_to_num(_column(table, "denominator", r)),
                                                    np.nan_to_num(_column(table, "_top_den", r)),
                                                    ck_den[sel[ratio]], pt)
        with np.errstate(divide="ignore", invalid="ignore"):
            est[sel] = np.where(st == "total", num_pub[sel],
                                np.where(den_pub[sel] != 0, num_pub[sel] / den_pub[sel] * scale[sel], np.nan))
    median = stat == 5
    est[median] = _column(table, "estimate", rows[median])
    reason[median & ~(n_pub >= k + pt.D)] = 1
    reason[(reason == 0) & np.isnan(est)] = 1  # nothing to divide by once perturbed
    out_est = out["estimate"].to_numpy().copy()
    out_est[rows] = est
    out["estimate"] = out_est
    for c, vals in (("ci_low", est), ("ci_high", est), ("numerator", num_pub), ("denominator", den_pub),
                    ("n", n_pub)):
        col = out[c].to_numpy().copy()
        col[rows] = vals
        out[c] = col
    for c in ("se", "cv"):  # no sampling error; the perturbation error is documented, not shown
        col = out[c].to_numpy().copy()
        col[rows] = np.where(np.isnan(est), np.nan, 0.0)
        out[c] = col
    return reason
