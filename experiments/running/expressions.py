"""A small expression grammar of our own for conditions, goals and constraints typed by users.

``discover --where`` / ``--among``, ``robustness --goal``, a spec's ``[robustness] goals`` (re-read by
``analyze`` from a results folder someone else may have made) and ``[optimize] constraints`` are
user text. They are never handed to ``eval``, ``DataFrame.eval`` or ``DataFrame.query`` (an attribute
chain such as ``x.__class__.__init__.__globals__`` would reach the interpreter): the text is parsed
with :mod:`ast`, every node is checked against the grammar below, and the tree is walked here with
pandas/numpy operations on the frame's columns.

Allowed (:data:`ALLOWED`):

* names of the columns passed in (outcomes, factors; in constraints also levers and ``budget``);
* numbers (``0.35``, ``2e8``), ``'strings'`` and ``True`` / ``False``;
* comparisons ``<`` ``<=`` ``==`` ``!=`` ``>=`` ``>``, also chained (``0.2 <= retention_3y < 0.4``);
* ``and`` / ``or`` / ``not`` and ``&`` / ``|`` / ``~`` (as in pandas, ``&`` and ``|`` bind like ``and`` /
  ``or``, so ``a > 1 & b < 2`` means ``(a > 1) and (b < 2)``);
* ``+`` ``-`` ``*`` ``/``, unary ``-`` / ``+``, and ``**`` with a literal exponent between -10 and 10;
* ``x in [...]`` / ``x not in [...]`` with a literal list or tuple of numbers, strings or true/false.

Everything else (attribute access, subscripts, calls, lambdas, comprehensions, f-strings, ``:=``,
``*``-unpacking, ``yield``/``await``, bytes, names with ``__`` or outside ASCII, names that are not
columns, other operators) is refused with one line naming the expression, the offending piece and
what is allowed. So are texts longer than :data:`MAX_CHARS` characters (checked before parsing), with
more than :data:`MAX_NODES` parts or nested deeper than :data:`MAX_DEPTH`.

Semantics are those of the pandas expressions used before: a comparison with a missing value is
false (a yes/no column with gaps compares as missing), division by zero gives ``inf`` / ``nan`` as in
numpy, and arithmetic is in floating point (``10 ** 10 ** 10`` is refused; ``1e308 * 10`` is ``inf``).
"""

from __future__ import annotations

import ast
import difflib
import io
import operator
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MAX_CHARS = 1_000  # characters of one expression
MAX_NODES = 500  # parts of its syntax tree
MAX_DEPTH = 100  # nesting of its syntax tree
MAX_EXPONENT = 10  # |n| of a literal exponent in ``x ** n``

ALLOWED = ("allowed: column names, numbers, 'strings', True/False, comparisons (< <= == != >= >, also "
           "chained), and/or/not (& | ~), + - * /, ** with a number from -10 to 10, and x in [list of values]")
NUMERIC_ALLOWED = ("allowed: column names, numbers, + - * /, unary -, and ** with a number from -10 to 10")

_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Eq: operator.eq, ast.NotEq: operator.ne,
            ast.GtE: operator.ge, ast.Gt: operator.gt}
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
               ast.Pow: operator.pow}
_SYMBOLS = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
            ast.BitXor: "^", ast.BitAnd: "&", ast.BitOr: "|", ast.Is: "is", ast.IsNot: "is not"}
_REFUSED = {  # node type -> how the one line names it (attributes and calls: see _check)
    ast.Subscript: "subscript", ast.Lambda: "lambda", ast.ListComp: "comprehension",
    ast.SetComp: "comprehension", ast.DictComp: "comprehension", ast.GeneratorExp: "generator expression",
    ast.JoinedStr: "f-string", ast.FormattedValue: "f-string", ast.NamedExpr: "assignment (:=)",
    ast.Starred: "unpacking (*)", ast.Yield: "yield", ast.YieldFrom: "yield from", ast.Await: "await",
    ast.IfExp: "conditional (a if b else c)", ast.Dict: "dict", ast.Set: "set", ast.Slice: "slice",
}


class ExpressionError(ValueError):
    """An expression is refused (outside the grammar, unknown columns) or does not give what is needed."""


@dataclass(frozen=True, eq=False)
class Expression:
    """A checked expression: its text, its tree (checked against the grammar) and the names it uses."""

    text: str
    tree: ast.expr
    names: frozenset[str]
    where: str = "expression"

    def values(self, frame: pd.DataFrame) -> Any:
        """The expression over the rows of ``frame``: a Series (or a scalar if it uses no column).

        Raises :class:`ExpressionError` (one line) when an operation does not apply to the values, e.g.
        ``package * 2`` on a column of names."""
        missing = sorted(self.names - set(map(str, frame.columns)))
        if missing:
            raise ExpressionError(f"{self.where}: {self.text!r} uses column(s) the results do not have: "
                                  f"{', '.join(missing)}")
        try:
            with np.errstate(all="ignore"):
                return _value(self.tree, frame)
        except Exception as exc:  # noqa: BLE001 - only our own operations ran; one line for the user
            raise ExpressionError(f"{self.where}: {_show(self.text)} cannot be evaluated: "
                                  f"{type(exc).__name__}: {_first_line(exc)}") from None


def parse(text: Any, where: str = "expression", *, numeric: bool = False) -> Expression:
    """Check ``text`` against the grammar and return it parsed; :class:`ExpressionError` otherwise.

    ``numeric``: a number per row (a side of a constraint): names, numbers and arithmetic only."""
    example = "\"retention_3y >= 0.35\"" if not numeric else "\"spending_total / 10\""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"{where}: {text!r} is empty; give a {'value' if numeric else 'condition'} such as "
                              f"{example}")
    if len(text) > MAX_CHARS:
        raise ExpressionError(f"{where}: {_show(text)} is {len(text):,} characters long; at most {MAX_CHARS:,} "
                              "are allowed")
    source = _pandas_precedence(text.strip(), where)
    try:
        tree = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        msg = getattr(exc, "msg", None) or type(exc).__name__
        raise ExpressionError(f"{where}: {_show(text)} is not a valid expression ({msg}); give a "
                              f"{'value' if numeric else 'condition'} such as {example}") from None
    _check_size(tree, text, where)
    names: set[str] = set()
    _check(tree, text, where, numeric, names)
    return Expression(text=text, tree=tree, names=frozenset(names), where=where)


def check_columns(expr: Expression, columns: Iterable[str]) -> None:
    """Raise :class:`ExpressionError` naming every unknown column of ``expr`` (with suggestions)."""
    allowed = [str(c) for c in columns]
    unknown = sorted(expr.names - set(allowed))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, allowed, n=2, cutoff=0.6)
            hints.append(f"{name!r}" + (f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""))
        raise ExpressionError(f"{expr.where}: {expr.text!r} uses unknown column(s) {', '.join(hints)}. "
                              f"Allowed: {', '.join(allowed)}.")


# ---------------------------------------------------------------------------- checking
def _pandas_precedence(text: str, where: str) -> str:
    """``&`` / ``|`` as ``and`` / ``or`` (pandas' precedence: ``a > 1 & b < 2`` is two comparisons);
    refuses names outside ASCII (Python would fold ``ｘ`` into ``x``) and characters Python does not read."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, ValueError) as exc:
        msg = exc.args[0] if exc.args else type(exc).__name__
        raise ExpressionError(f"{where}: {_show(text)} is not a valid expression ({msg}); {ALLOWED}") from None
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    out, last = [], 0
    for tok in tokens:
        if tok.type == tokenize.ERRORTOKEN and tok.string.strip():
            raise ExpressionError(f"{where}: {_show(text)} is refused: character {tok.string!r} is not "
                                  f"allowed; {ALLOWED}")
        if tok.type == tokenize.NAME and not tok.string.isascii():
            raise ExpressionError(f"{where}: {_show(text)} is refused: name {tok.string!r} is not allowed "
                                  f"(column names are ASCII); {ALLOWED}")
        if tok.type == tokenize.OP and tok.string in ("&", "|"):
            start = offsets[tok.start[0] - 1] + tok.start[1]
            out.append(text[last:start])
            out.append(" and " if tok.string == "&" else " or ")
            last = start + 1
    out.append(text[last:])
    return "".join(out)


def _check_size(tree: ast.AST, text: str, where: str) -> None:
    nodes, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH:
            what = f"has more than {MAX_NODES} parts" if nodes > MAX_NODES else f"is nested more than {MAX_DEPTH} deep"
            raise ExpressionError(f"{where}: {_show(text)} {what}; split it into simpler conditions")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check(node: ast.AST, text: str, where: str, numeric: bool, names: set[str]) -> None:
    """Refuse the first node outside the grammar (depth first, so the outermost piece is named)."""
    def refuse(piece: str, why: str = "") -> ExpressionError:
        return ExpressionError(f"{where}: {_show(text)} is refused: {piece} is not allowed"
                               f"{f' ({why})' if why else ''}; {NUMERIC_ALLOWED if numeric else ALLOWED}")

    if isinstance(node, ast.Attribute):
        raise refuse(f"attribute access '.{node.attr}'")
    if isinstance(node, ast.Call):
        raise refuse(f"function call '{_short(node.func)}(...)'")
    if type(node) in _REFUSED:
        raise refuse(f"{_REFUSED[type(node)]} '{_short(node)}'")
    if isinstance(node, ast.Name):
        if "__" in node.id:
            raise refuse(f"name {node.id!r}", "no names with '__'")
        names.add(node.id)
        return
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return
        if isinstance(v, (bool, str)):
            if numeric:
                raise refuse(repr(v), "a number is needed here")
            return
        kind = {bytes: "bytes", complex: "complex number"}.get(type(v), "constant")
        raise refuse(f"{kind} {_short(node)}")
    if isinstance(node, ast.UnaryOp):
        if numeric and not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise refuse(f"'{_short(node)}'", "a number is needed here")
        _check(node.operand, text, where, numeric, names)
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITHMETIC:
            raise refuse(f"operator '{_SYMBOLS.get(type(node.op), type(node.op).__name__)}'")
        if isinstance(node.op, ast.Pow):
            exp = _literal_number(node.right)
            if exp is None or abs(exp) > MAX_EXPONENT:
                raise refuse(f"exponent '{_short(node.right)}'",
                             f"only a number from -{MAX_EXPONENT} to {MAX_EXPONENT}")
        for side in (node.left, node.right):
            if isinstance(side, ast.Constant) and isinstance(side.value, str):
                raise refuse(f"arithmetic on the string {side.value!r}")
            _check(side, text, where, numeric, names)
        return
    if numeric:
        raise refuse(f"'{_short(node)}'", "a number is needed here, not a condition")
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, text, where, numeric, names)
        return
    if isinstance(node, ast.Compare):
        _check(node.left, text, where, numeric, names)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)) and len(node.ops) > 1:
                raise refuse(f"'in' inside a chain of comparisons ('{_short(node)}')", "use and")
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, (ast.List, ast.Tuple)) or not all(
                        _literal(e) is not _NOT_LITERAL for e in right.elts):
                    raise refuse(f"'in {_short(right)}'", "give a list of values, e.g. in ['digital', 'all_five']")
                continue
            if type(op) not in _COMPARE:
                raise refuse(f"operator '{_SYMBOLS.get(type(op), type(op).__name__)}'")
            _check(right, text, where, numeric, names)
        return
    if isinstance(node, (ast.List, ast.Tuple)):
        raise refuse(f"a list '{_short(node)}' outside 'x in [...]'")
    raise refuse(f"'{_short(node)}'")


_NOT_LITERAL = object()


def _literal(node: ast.AST) -> Any:
    """The value of a constant list element (number, string, true/false, negative number), or _NOT_LITERAL."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, float, str)):
        return node.value
    n = _literal_number(node)
    return _NOT_LITERAL if n is None else n


def _literal_number(node: ast.AST) -> float | None:
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return sign * _float(node.value)
    return None


def _float(v: int | float) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer literal with more than 308 digits
        return float("inf") if v > 0 else float("-inf")


def _short(node: ast.AST, limit: int = 60) -> str:
    s = ast.unparse(node)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _show(text: str, limit: int = 120) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ""


# ---------------------------------------------------------------------------- evaluation
def _value(node: ast.AST, frame: pd.DataFrame) -> Any:
    """Walk a checked tree: columns are Series of ``frame``, numbers are float64 (no big-integer hang)."""
    if isinstance(node, ast.Name):
        return frame[node.id]
    if isinstance(node, ast.Constant):
        v = node.value
        return v if isinstance(v, (bool, str)) else np.float64(_float(v))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return -_arithmetic_operand(node.operand, frame)
        if isinstance(node.op, ast.UAdd):
            return +_arithmetic_operand(node.operand, frame)
        v = _value(node.operand, frame)
        return (not v) if isinstance(v, (bool, np.bool_)) else ~v  # not / ~: elementwise, as in pandas
    if isinstance(node, ast.BinOp):
        return _ARITHMETIC[type(node.op)](*(_arithmetic_operand(side, frame) for side in (node.left, node.right)))
    if isinstance(node, ast.BoolOp):
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        out = _value(node.values[0], frame)
        for v in node.values[1:]:
            out = combine(out, _value(v, frame))
        return out
    if isinstance(node, ast.Compare):
        out, left = None, _value(node.left, frame)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)):
                values = [_literal(e) for e in right_node.elts]
                got = left.isin(values) if isinstance(left, pd.Series) else left in values
                part = (~got if isinstance(got, pd.Series) else not got) if isinstance(op, ast.NotIn) else got
                right = None  # 'in' stands alone (see _check)
            else:
                right = _value(right_node, frame)
                part = _COMPARE[type(op)](left, right)
            out = part if out is None else out & part
            left = right
        return out
    raise AssertionError(f"unchecked node {type(node).__name__}")  # pragma: no cover - _check refuses it


def _arithmetic_operand(node: ast.AST, frame: pd.DataFrame) -> Any:
    """A side of ``+ - * / **`` as numbers: a column of text (e.g. ``package``) is refused before any
    arithmetic, since ``text * count`` would repeat the text per row (a shared folder's goal could fill
    the memory)."""
    v = _number(_value(node, frame))
    if isinstance(v, pd.Series) and not (pd.api.types.is_numeric_dtype(v.dtype) or pd.api.types.is_bool_dtype(v.dtype)):
        raise TypeError(f"arithmetic on {_short(node)!r}, which holds text ({v.dtype}), not numbers")
    return v


def _number(v: Any) -> Any:
    """Python numbers as float64 (``10.0 ** 400`` is inf, not OverflowError); Series as they are."""
    if isinstance(v, (bool, np.bool_)):
        return np.float64(v)
    if isinstance(v, (int, float)):
        return np.float64(v)
    return v


__all__ = ["ALLOWED", "MAX_CHARS", "MAX_DEPTH", "MAX_EXPONENT", "MAX_NODES", "Expression", "ExpressionError",
           "check_columns", "parse"]
