"""Which columns of a matrix R keeps as linearly independent (LINPACK ``dqrdc2``'s rule).

R decides the rank of a model matrix (``glm``'s aliased coefficients) and of replicate weights
(``degf`` of a replicate design: ``qr(weights, tol=1e-5)$rank - 1``) with ``dqrdc2``: columns
are taken left to right, and a column whose norm, after removing its projection on the
columns kept so far, falls below ``tol`` times its original norm is set aside. This module
applies that rule. The decision depends only on inner products of the columns, so it is taken
on the small triangular factor R of X = QR (numpy's LAPACK QR) rather than on X: the same as
Gram–Schmidt with re-orthogonalisation on X itself.

Example:
    >>> import numpy as np
    >>> X = np.array([[1.0, 2, 1], [1, 2, 0], [1, 2, 5]])
    >>> kept_columns(X, 1e-7)
    [0, 2]
"""

from __future__ import annotations

import numpy as np


def kept_columns(X: np.ndarray, tol: float) -> list[int]:
    """Indices of the columns kept by R's ``dqrdc2`` rule with tolerance ``tol``."""
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    norms = np.linalg.norm(X, axis=0)
    R = np.linalg.qr(X, mode="r") if n > p else X
    basis: list[np.ndarray] = []
    kept = []
    for j in range(p):
        v = R[:, j].copy()
        for _ in range(2):  # twice is enough (Kahan–Parlett)
            for q in basis:
                v -= q * (q @ v)
        r = float(np.linalg.norm(v))
        ref = norms[j] if norms[j] > 0 else 1.0
        if r >= tol * ref and r > 0:
            kept.append(j)
            basis.append(v / r)
    return kept


def rank(X: np.ndarray, tol: float) -> int:
    """R's ``qr(X, tol=tol)$rank``."""
    return len(kept_columns(X, tol))


__all__ = ["kept_columns", "rank"]
