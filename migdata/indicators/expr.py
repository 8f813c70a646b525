"""A small, safe expression language for the indicator catalogue.

Catalogue entries describe universes, numerators and values as text over column names, e.g.
``"age >= 15 and of_status in ['ofw_contract', 'ofw_no_contract']"``. This module parses such a
string with Python's :mod:`ast` and evaluates it *only* if every node is on a whitelist:
column names, constants, lists, comparisons (``== != < <= > >=``, ``in``, ``not in``), ``and``,
``or``, ``not``, ``+ - * /`` and the functions ``notna(col)``, ``isna(col)`` and
``has(col, 'code')`` (a space-separated select-multiple column contains a code).

Why hand-written instead of ``DataFrame.eval``/``query``: pandas' evaluator allows attribute
access, ``@`` local variables and method calls, so a catalogue file (which users may edit or
receive from others) could run code. A whitelist over the AST is a few dozen lines and cannot.

Semantics fit survey data: a comparison with a missing value is False (never NA), so an
unanswered item never enters a numerator; ``not`` of a missing comparison is True only where
the value is present (``not (age >= 15)`` is ``age < 15`` for known ages).

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [10, 20, None], "sex": ["male", "female", "female"]})
    >>> evaluate("age >= 15 and sex == 'female'", df).tolist()
    [False, True, False]
    >>> sorted(names("notna(age) and sex in ['male']"))
    ['age', 'sex']
"""

from __future__ import annotations

import ast
import re
import operator
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import pandas as pd

from migdata._kernels.codes import isin as kernel_isin
from migdata.errors import UsageError

FUNCTIONS = ("notna", "isna", "has")
_CMP: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_BIN: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}


@lru_cache(maxsize=512)
def parse(expr: str, where: tuple[str, str] = ("?", "?")) -> ast.Expression:
    """Parse ``expr`` and check every node against the whitelist (UsageError MD703 if not)."""
    ind, field = where
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise UsageError("MD703", expr=expr, id=ind, field=field, what=f"invalid syntax ({exc.msg})") from None
    for node in ast.walk(tree):
        ok = isinstance(node, (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not,
                               ast.USub, ast.Compare, ast.Name, ast.Load, ast.Constant, ast.List,
                               ast.Tuple, ast.BinOp, ast.In, ast.NotIn, *_CMP, *_BIN))
        if isinstance(node, ast.Call):
            ok = (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and not node.keywords)
            if ok and node.func.id == "has":
                ok = (len(node.args) == 2 and isinstance(node.args[0], ast.Name)
                      and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str))
            elif ok:
                ok = len(node.args) == 1 and isinstance(node.args[0], ast.Name)
        if isinstance(node, ast.Compare) and any(isinstance(o, (ast.In, ast.NotIn)) for o in node.ops):
            ok = ok and all(isinstance(c, (ast.List, ast.Tuple)) for c in node.comparators)
        if not ok:
            what = type(node).__name__
            if isinstance(node, ast.Call):
                what = f"function call {ast.unparse(node.func)}()"
            elif isinstance(node, ast.Attribute):
                what = f"attribute access .{node.attr}"
            elif isinstance(node, ast.Compare):
                what = "'in' followed by something other than a list (write e.g. x in ['a', 'b'])"
            raise UsageError("MD703", expr=expr, id=ind, field=field, what=what)
    return tree


def names(expr: str, where: tuple[str, str] = ("?", "?")) -> set[str]:
    """The column names an expression reads (function names excluded)."""
    tree = parse(expr, where)
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in funcs}


def _values(s: pd.Series) -> Any:
    """A column as something numpy comparisons work on (categoricals compare as strings)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.astype(object)
    return s


def _num(v: Any) -> Any:
    if np.isscalar(v):
        return v
    s = pd.to_numeric(pd.Series(v), errors="coerce").astype("Float64")
    return s.to_numpy(dtype="float64", na_value=np.nan)


def _present(v: Any) -> np.ndarray:
    return np.asarray(pd.notna(v), dtype=bool)


class _Eval:
    def __init__(self, df: pd.DataFrame, expr: str, where: tuple[str, str]) -> None:
        self.df, self.expr, self.where = df, expr, where
        self.n = len(df)

    def col(self, name: str) -> Any:
        if name not in self.df.columns:
            raise UsageError("MD704", expr=self.expr, id=self.where[0], field=self.where[1],
                             column=name, table="unit")
        return self.df[name]

    def bool_(self, v: Any) -> np.ndarray:
        if isinstance(v, (bool, np.bool_)):
            return np.full(self.n, bool(v))
        if isinstance(v, pd.Series) and isinstance(v.dtype, pd.BooleanDtype):
            return v.to_numpy(dtype=bool, na_value=False)
        arr = pd.Series(v).astype("boolean").fillna(False) if not isinstance(v, np.ndarray) else v
        return np.asarray(arr, dtype=bool)

    def run(self, node: ast.AST) -> Any:  # noqa: C901 - one branch per whitelisted node
        if isinstance(node, ast.Expression):
            return self.run(node.body)
        if isinstance(node, ast.Name):
            return self.col(node.id)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.run(e) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            parts = [self.bool_(self.run(v)) for v in node.values]
            fn = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = parts[0]
            for p in parts[1:]:
                out = fn(out, p)
            return out
        if isinstance(node, ast.UnaryOp):
            inner = self.run(node.operand)
            if isinstance(node.op, ast.USub):
                return -inner
            return self._not(node.operand, inner)
        if isinstance(node, ast.BinOp):
            a, b = _num(self.run(node.left)), _num(self.run(node.right))
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.asarray(_BIN[type(node.op)](a, b), dtype="float64")
        if isinstance(node, ast.Compare):
            left = self.run(node.left)
            out = np.ones(self.n, dtype=bool)
            for op, comp in zip(node.ops, node.comparators):
                right = self.run(comp)
                out &= self._compare(op, left, right)
                left = right
            return out
        if isinstance(node, ast.Call):
            fname = node.func.id  # type: ignore[attr-defined]
            v = self.run(node.args[0])
            if fname == "notna":
                return _present(v)
            if fname == "isna":
                return ~_present(v)
            code = node.args[1].value  # type: ignore[attr-defined]
            # few distinct answer strings for many rows: test each distinct string once
            codes, uniq = pd.factorize(pd.Series(v).astype("string"))
            pattern = re.compile(r"(?:^|\s)" + re.escape(code) + r"(?:\s|$)")
            hit = np.array([bool(pattern.search(str(x))) for x in uniq] + [False], dtype=bool)
            return hit[codes]
        raise UsageError("MD703", expr=self.expr, id=self.where[0], field=self.where[1],
                         what=type(node).__name__)

    def _not(self, operand: ast.AST, inner: Any) -> np.ndarray:
        """Negation that stays False where the operand's columns are missing."""
        present = np.ones(self.n, dtype=bool)
        for nm in names(ast.unparse(operand), self.where):
            present &= _present(self.col(nm))
        return present & ~self.bool_(inner)

    def _compare(self, op: ast.cmpop, left: Any, right: Any) -> np.ndarray:
        # a categorical column against constants: compare category codes (no string conversion)
        if isinstance(left, pd.Series) and isinstance(left.dtype, pd.CategoricalDtype) and \
                (np.isscalar(right) or isinstance(right, list)) and \
                isinstance(op, (ast.In, ast.NotIn, ast.Eq, ast.NotEq)):
            cats = left.cat.categories
            vals = right if isinstance(right, list) else [right]
            pos = [cats.get_loc(v) for v in vals if v in cats]
            codes = left.cat.codes.to_numpy()
            res = kernel_isin(codes, pos)
            if isinstance(op, (ast.NotIn, ast.NotEq)):
                res = ~res & (codes >= 0)
            return res
        if isinstance(left, pd.Series) and isinstance(left.dtype, pd.CategoricalDtype):
            left = _values(left)
        if isinstance(right, pd.Series) and isinstance(right.dtype, pd.CategoricalDtype):
            right = _values(right)
        if isinstance(op, (ast.In, ast.NotIn)):
            s = pd.Series(left)
            res = s.isin(right).to_numpy(dtype=bool)
            return res if isinstance(op, ast.In) else (~res & _present(s))
        both = np.ones(self.n, dtype=bool)
        for v in (left, right):
            if not np.isscalar(v) and v is not None:
                both &= _present(v)
        a = left if np.isscalar(left) else pd.Series(left).reset_index(drop=True)
        b = right if np.isscalar(right) else pd.Series(right).reset_index(drop=True)
        try:
            res = _CMP[type(op)](a, b)
        except TypeError:
            return np.zeros(self.n, dtype=bool) & both
        if isinstance(res, pd.Series) and isinstance(res.dtype, pd.BooleanDtype):
            res = res.to_numpy(dtype=bool, na_value=False)
        else:
            res = pd.Series(res).astype("boolean").fillna(False).to_numpy(dtype=bool)
        return res & both


def evaluate(expr: str | None, df: pd.DataFrame, where: tuple[str, str] = ("?", "?")) -> Any:
    """Evaluate ``expr`` over the columns of ``df``: a boolean array for conditions, a float array
    for arithmetic/values. ``None`` or ``""`` means "every row" (an all-True array)."""
    if expr is None or str(expr).strip() == "":
        return np.ones(len(df), dtype=bool)
    tree = parse(str(expr), where)
    out = _Eval(df, str(expr), where).run(tree)
    if isinstance(out, pd.Series) and isinstance(out.dtype, pd.BooleanDtype):
        return out.array  # a nullable boolean column as it is (no array of Python objects)
    if isinstance(out, (pd.Series, pd.Index)):
        out = out.to_numpy()
    return out
