"""Module conditions of workflows.yaml: a tiny expression language, checked when the file
is loaded and evaluated when a run starts; never `eval`.

A condition is a Python-looking expression parsed with `ast` (mode "eval") and accepted only
if every node is on a short whitelist; it is then evaluated by walking that tree here, so no
Python code of the text ever runs:

    weekday < 5 and critique_a_previous >= min_critical
    month in [6, 7, 8] or not summer_only
    stock.horizon_days > 14 and partition_date >= "2026-03-01"

- values: whole numbers (at most 10**9 in size), decimals, 'strings' (100 characters at most),
  true/false (`True`/`False`);
- names: the facts of the run's partition (FACTS), the workflow's variables, and module
  parameters written `group.name` (`stock.horizon_days`: the value the run uses);
- operators: `and`, `or`, `not`; comparisons `== != < <= > >=` (chains allowed); `in` / `not in`
  against a list written in place (`[1, 2]`) or a list parameter (`knapsack.categories`);
  `+ - *` and unary `-` on numbers, with every intermediate result bounded by MAX_RESULT.

Everything else is refused with the reason: calls (`len(x)`), attribute access other than a
parameter name (`weekday.__class__`), subscripts (`x[0]`), `**` (a huge power is the classic
way to stall an evaluator), lambdas, comprehensions, f-strings, `if` expressions, walrus...
The whole text is limited to MAX_CHARS characters and MAX_NODES syntax nodes, so a condition
can never make loading or evaluating expensive. Names are checked against the known ones
(the refusal lists them) and every expression is type-checked (numbers with numbers, strings
with strings, `and`/`or`/`not` on true/false), so a condition that loads cannot fail at run
time except for the bound on results.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

MAX_CHARS = 500
MAX_NODES = 80
MAX_INT = 10**9
MAX_RESULT = 10**12
MAX_STRING = 100

NUMBER, STRING, BOOL, LIST = "number", "string", "bool", "list"

#: facts of the partition a run is for, with their types (partition_facts.py computes them)
FACTS: dict[str, str] = {
    "weekday": NUMBER,  # 0 = Monday .. 6 = Sunday
    "day": NUMBER,  # 1..31
    "month": NUMBER,  # 1..12
    "year": NUMBER,
    "partition_date": STRING,  # YYYY-MM-DD: compares as a date with another such string
    "critique_a_previous": NUMBER,  # CRITIQUE_A pairs of the previous partition (0 when none is published)
}

_COMPARISONS = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_ARITHMETIC = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b}
_REFUSED = {
    ast.Call: "function calls are not allowed",
    ast.Attribute: "attribute access is not allowed (only module parameters such as stock.horizon_days)",
    ast.Subscript: "subscripts ([...]) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.IfExp: "'x if c else y' is not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
}


class ConditionError(ValueError):
    """A condition that is refused (at load) or cannot be evaluated (the bound on results)."""


@dataclass(frozen=True)
class Condition:
    """A checked condition: its text, its tree, and the names it reads."""

    text: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, object]) -> bool:
        """True or False for these values (every name of `names` must be in `values`)."""
        missing = sorted(self.names - set(values))
        if missing:
            raise ConditionError(f"condition {self.text!r}: no value for {', '.join(missing)}")
        return bool(_evaluate(self.tree.body, values))


def parse_condition(text: object, types: Mapping[str, str]) -> Condition:
    """Check `text` against the grammar (module docstring) and the known names' `types`
    (name -> NUMBER, STRING, BOOL or LIST; parameters as 'group.name'); refuse with the reason."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ConditionError(f"a condition is a text such as \"weekday < 5\", got {text!r}")
    if not text.strip():
        raise ConditionError("the condition is empty")
    if len(text) > MAX_CHARS:
        raise ConditionError(f"the condition has {len(text)} characters, more than the {MAX_CHARS} allowed")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        reason = getattr(error, "msg", None) or type(error).__name__
        raise ConditionError(f"condition {text!r} is not a valid expression: {reason}") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ConditionError(f"condition {text!r} is too long ({len(nodes)} parts, at most {MAX_NODES})")
    names: set[str] = set()
    kind = _check(tree.body, types, names, text)
    if kind != BOOL:
        raise ConditionError(f"condition {text!r} is a {kind}, not true/false: compare it (e.g. x > 0)")
    return Condition(text, tree, frozenset(names))


def _fail(text: str, node: ast.AST, reason: str) -> ConditionError:
    column = getattr(node, "col_offset", None)
    where = f" (at column {column + 1})" if column is not None else ""
    return ConditionError(f"condition {text!r}{where}: {reason}")


def _known(types: Mapping[str, str]) -> str:
    return ", ".join(sorted(types)) or "none"


def _check(node: ast.AST, types: Mapping[str, str], names: set[str], text: str) -> str:
    """The type of `node`, or ConditionError; `names` collects the names it reads."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            return BOOL
        if isinstance(value, int):
            if abs(value) > MAX_INT:
                raise _fail(text, node, f"the number {value} is larger than {MAX_INT}")
            return NUMBER
        if isinstance(value, float):
            if not abs(value) <= MAX_INT:  # also refuses inf and nan
                raise _fail(text, node, f"the number {value} is larger than {MAX_INT}")
            return NUMBER
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                raise _fail(text, node, f"a string of {len(value)} characters (at most {MAX_STRING})")
            return STRING
        raise _fail(text, node, f"{type(value).__name__} values are not allowed")
    if isinstance(node, ast.Name):
        if node.id not in types:
            raise _fail(text, node, f"unknown name {node.id!r}; known names: {_known(types)}")
        names.add(node.id)
        return types[node.id]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and isinstance(node.ctx, ast.Load):
        name = f"{node.value.id}.{node.attr}"
        if name in types:
            names.add(name)
            return types[name]
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            if _check(value, types, names, text) != BOOL:
                raise _fail(text, value, "'and' / 'or' join true/false values (comparisons)")
        return BOOL
    if isinstance(node, ast.UnaryOp):
        kind = _check(node.operand, types, names, text)
        if isinstance(node.op, ast.Not) and kind == BOOL:
            return BOOL
        if isinstance(node.op, (ast.USub, ast.UAdd)) and kind == NUMBER:
            return NUMBER
        raise _fail(text, node, f"'{_symbol(node.op)}' does not apply to a {kind}")
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITHMETIC:
            raise _fail(text, node, f"the operator '{_symbol(node.op)}' is not allowed (only + - * on numbers)")
        left, right = _check(node.left, types, names, text), _check(node.right, types, names, text)
        if left != NUMBER or right != NUMBER:
            raise _fail(text, node, f"'{_symbol(node.op)}' applies to numbers, not {left} and {right}")
        return NUMBER
    if isinstance(node, ast.Compare):
        left = _check(node.left, types, names, text)
        for operator, comparator in zip(node.ops, node.comparators):
            if isinstance(operator, (ast.In, ast.NotIn)):
                _check_membership(left, comparator, types, names, text)
                left = LIST
                continue
            if type(operator) not in _COMPARISONS:
                raise _fail(text, node, f"the comparison '{_symbol(operator)}' is not allowed")
            right = _check(comparator, types, names, text)
            if left != right or left == LIST:
                raise _fail(text, node, f"cannot compare a {left} with a {right}")
            if left == BOOL and isinstance(operator, _ORDERING):
                raise _fail(text, node, "true/false values compare with == or != only")
            left = right
        return BOOL
    if isinstance(node, (ast.List, ast.Tuple)):
        raise _fail(text, node, "a list may only follow 'in' / 'not in'")
    reason = next((message for kind, message in _REFUSED.items() if isinstance(node, kind)), None)
    raise _fail(text, node, reason or f"{type(node).__name__} is not allowed in a condition")


def _check_membership(left: str, node: ast.AST, types: Mapping[str, str], names: set[str], text: str) -> None:
    if left not in (NUMBER, STRING):
        raise _fail(text, node, f"'in' tests a number or a string, not a {left}")
    if isinstance(node, (ast.List, ast.Tuple)):
        if not node.elts:
            raise _fail(text, node, "an empty list")
        for item in node.elts:
            if not isinstance(item, ast.Constant):
                raise _fail(text, item, "a list after 'in' holds plain values only")
            if _check(item, types, names, text) != left:
                raise _fail(text, item, f"a list of {left}s may not hold {item.value!r}")
        return
    if _check(node, types, names, text) != LIST:
        raise _fail(text, node, "'in' needs a list: [1, 2] or a list parameter")


def _symbol(operator: ast.AST) -> str:
    return {
        ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
        ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.MatMult: "@",
        ast.Not: "not", ast.USub: "-", ast.UAdd: "+", ast.Invert: "~", ast.Is: "is", ast.IsNot: "is not",
    }.get(type(operator), type(operator).__name__)


def _bounded(value: object, node: ast.AST) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool) and not abs(value) <= MAX_RESULT:
        raise ConditionError(f"a result above {MAX_RESULT} at column {getattr(node, 'col_offset', 0) + 1}")
    return value


def _evaluate(node: ast.AST, values: Mapping[str, object]) -> object:
    """The value of a tree `parse_condition` accepted (the check made every branch safe)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.Attribute):
        return values[f"{node.value.id}.{node.attr}"]  # type: ignore[attr-defined]
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_evaluate(value, values) for value in node.values)
        return any(_evaluate(value, values) for value in node.values)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        if isinstance(node.op, ast.Not):
            return not operand
        return _bounded(-operand if isinstance(node.op, ast.USub) else +operand, node)  # type: ignore[operator]
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        return _bounded(_ARITHMETIC[type(node.op)](left, right), node)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for operator, comparator in zip(node.ops, node.comparators):
            right = _evaluate(comparator, values)
            if not _COMPARISONS[type(operator)](left, right):
                return False
            left = right
        return True
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_evaluate(item, values) for item in node.elts]
    raise ConditionError(f"{type(node).__name__} cannot be evaluated")  # unreachable after parse_condition
