"""Evaluate the XLSForm (ODK XPath) expressions of relevance, constraint and calculation rules.

Hand-written because no maintained Python library evaluates ODK XPath with ``${name}``
references and ODK functions (``selected``, ``count-selected``, ``regex``...); the reference
implementation, JavaRosa, is Java. Only the subset the bundled forms use is supported; anything
else raises MD608 rather than guessing. Semantics follow XPath 1.0 as JavaRosa applies them:
instance values are strings; ``=``/``!=`` compare numerically when either side is a number, as
strings otherwise; ``<``, ``>``, ``<=``, ``>=`` and arithmetic convert to numbers (empty -> NaN,
which compares false); ``and``/``or`` use boolean(): non-empty string, non-zero number.

Supported: numbers, 'strings', ``${name}``, ``.``, ``position(..)``, ``= != < <= > >=``,
``+ - * div mod``, unary minus, ``and or``, parentheses and the functions ``not selected
count-selected regex string-length if today format-date int number string concat coalesce
true false``.

Example:
    >>> evaluate("${age} >= 15 and ${sex} = '2'", {"age": "34", "sex": "2"})
    True
    >>> evaluate(". + ${a} = 100", {"a": "60"}, current="40")
    True
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any, Callable, Mapping

from migdata.errors import DataError

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>\d+(?:\.\d*)?|\.\d+)
    | (?P<str>'[^']*'|"[^"]*")
    | (?P<ref>\$\{[A-Za-z_][\w.\-]*\})
    | (?P<op>!=|<=|>=|=|<|>|\+|-|\*|\(|\)|,)
    | (?P<dots>\.\.|\.)
    | (?P<name>[A-Za-z_][\w\-]*)
    )""", re.X)

_BINARY = {"or": 1, "and": 2, "=": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4,
           "+": 5, "-": 5, "*": 6, "div": 6, "mod": 6}


class Unsupported(Exception):
    """The expression uses XPath outside the supported subset."""


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos, expr = [], 0, expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise Unsupported(f"the text at {expr[pos:pos + 12]!r}")
        pos = m.end()
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
    return out


class _Parser:
    """Pratt parser from tokens to nested tuples."""

    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks, self.i = toks, 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise Unsupported("an incomplete expression")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.next()
        if tok[1] != value:
            raise Unsupported(f"{tok[1]!r} where {value!r} was expected")

    def parse(self, min_prec: int = 0) -> Any:
        left = self.atom()
        while True:
            tok = self.peek()
            if tok is None or tok[1] not in _BINARY or tok[0] not in ("op", "name"):
                return left
            prec = _BINARY[tok[1]]
            if prec <= min_prec:
                return left
            self.next()
            left = ("bin", tok[1], left, self.parse(prec))

    def atom(self) -> Any:
        kind, val = self.next()
        if kind == "num":
            return ("lit", float(val))
        if kind == "str":
            return ("lit", val[1:-1])
        if kind == "ref":
            return ("ref", val[2:-1])
        if kind == "dots":
            return ("dot", val)
        if val == "-":
            return ("neg", self.atom())
        if val == "(":
            inner = self.parse()
            self.expect(")")
            return inner
        if kind == "name":
            self.expect("(")
            args = []
            if self.peek() and self.peek()[1] != ")":
                args.append(self.parse())
                while self.peek() and self.peek()[1] == ",":
                    self.next()
                    args.append(self.parse())
            self.expect(")")
            return ("call", val, args)
        raise Unsupported(f"{val!r}")


def number(v: Any) -> float:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(str(v).strip()) if str(v).strip() != "" else math.nan
    except ValueError:
        return math.nan


def boolean(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return not (v == 0 or math.isnan(v))
    return str(v) != ""


def string(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return str(int(v)) if v == int(v) else repr(v)
    return "" if v is None else str(v)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op in ("=", "!="):
        if isinstance(a, bool) or isinstance(b, bool):
            eq = boolean(a) == boolean(b)
        elif isinstance(a, float) or isinstance(b, float):
            x, y = number(a), number(b)
            eq = x == y
        else:
            eq = string(a) == string(b)
        return eq if op == "=" else not eq
    x, y = number(a), number(b)
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _format_date(v: Any, fmt: str) -> str:
    try:
        d = _dt.date.fromisoformat(string(v)[:10])
    except ValueError:
        return ""
    return fmt.replace("%Y", f"{d.year:04d}").replace("%m", f"{d.month:02d}").replace("%d", f"{d.day:02d}")


_FUNCS: dict[str, Callable[..., Any]] = {
    "not": lambda a: not boolean(a),
    "selected": lambda a, b: string(b) in string(a).split(),
    "count-selected": lambda a: float(len(string(a).split())),
    "regex": lambda a, p: re.search(string(p), string(a)) is not None,
    "string-length": lambda a: float(len(string(a))),
    "int": lambda a: float(math.trunc(number(a))) if not math.isnan(number(a)) else math.nan,
    "number": number,
    "string": string,
    "concat": lambda *a: "".join(string(x) for x in a),
    "coalesce": lambda a, b: a if string(a) != "" else b,
    "true": lambda: True,
    "false": lambda: False,
    "format-date": _format_date,
}


class Context:
    """Values visible to an expression: the current repeat instance first, then the top level."""

    def __init__(self, values: Mapping[str, Any], *, current: Any = None, position: int | None = None,
                 outer: Mapping[str, Any] | None = None, today: _dt.date | None = None) -> None:
        self.values, self.current, self.position = values, current, position
        self.outer = outer or {}
        self.today = today or _dt.date.today()

    def ref(self, name: str) -> str:
        if name in self.values:
            return string(self.values[name])
        return string(self.outer.get(name, ""))


def _eval(node: Any, ctx: Context) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "ref":
        return ctx.ref(node[1])
    if kind == "dot":
        if node[1] == ".":
            return string(ctx.current)
        raise Unsupported("'..' outside position(..)")
    if kind == "neg":
        return -number(_eval(node[1], ctx))
    if kind == "bin":
        op = node[1]
        if op == "or":
            return boolean(_eval(node[2], ctx)) or boolean(_eval(node[3], ctx))
        if op == "and":
            return boolean(_eval(node[2], ctx)) and boolean(_eval(node[3], ctx))
        a, b = _eval(node[2], ctx), _eval(node[3], ctx)
        if op in ("=", "!=", "<", "<=", ">", ">="):
            return _compare(op, a, b)
        x, y = number(a), number(b)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "div":
            return x / y if y else (math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x))
        return math.fmod(x, y) if y else math.nan
    if kind == "call":
        name, args = node[1], node[2]
        if name == "position" and args == [("dot", "..")]:
            if ctx.position is None:
                raise Unsupported("position(..) outside a repeat")
            return float(ctx.position)
        if name == "today" and not args:
            return ctx.today.isoformat()
        if name == "if" and len(args) == 3:
            return _eval(args[1], ctx) if boolean(_eval(args[0], ctx)) else _eval(args[2], ctx)
        fn = _FUNCS.get(name)
        if fn is None:
            raise Unsupported(f"the function {name}()")
        return fn(*[_eval(a, ctx) for a in args])
    raise Unsupported(str(kind))


_CACHE: dict[str, Any] = {}


def compile_expr(expr: str, column: str | None = None) -> Any:
    """Parse ``expr`` once (MD608 when it is outside the supported subset)."""
    if expr not in _CACHE:
        try:
            p = _Parser(_tokens(expr))
            tree = p.parse()
            if p.peek() is not None:
                raise Unsupported(f"the trailing text {p.peek()[1]!r}")
        except Unsupported as exc:
            raise DataError("MD608", expression=expr, column=column, detail=str(exc)) from exc
        _CACHE[expr] = tree
    return _CACHE[expr]


def evaluate(expr: str, values: Mapping[str, Any], *, current: Any = None, position: int | None = None,
             outer: Mapping[str, Any] | None = None, today: _dt.date | None = None,
             column: str | None = None) -> Any:
    """The value of XPath ``expr`` with ``${name}`` looked up in ``values`` (then ``outer``)."""
    tree = compile_expr(expr, column)
    try:
        return _eval(tree, Context(values, current=current, position=position, outer=outer, today=today))
    except Unsupported as exc:
        raise DataError("MD608", expression=expr, column=column, detail=str(exc)) from exc


def truthy(expr: str | None, values: Mapping[str, Any], **kw: Any) -> bool:
    """boolean() of ``expr``; an absent expression is true (no rule)."""
    return True if not expr else boolean(evaluate(expr, values, **kw))
