"""WHERE-clause compilation: literals typed against their field, predicates as closures over rows.

Semantics follow SOQL: string comparisons are case-insensitive; `= null` / `!= null` test for
null; `!=` and `NOT IN` also match nulls; ordering operators never match nulls; `LIKE` is a
case-insensitive whole-value match with `%`, `_` and backslash escapes; ids compare in their
18-character form whichever form the query used.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .ids import InvalidSalesforceId, to_18
from .schema import NUMBER_TYPES, STRING_TYPES, FieldDef
from .soql import Cmp, Literal, Node, Not, Query, soql_error
from .values import parse_datetime_text

if TYPE_CHECKING:
    from .store import AnyTable

logger = logging.getLogger(__name__)

Pred = Callable[[list], bool]
_TYPE_WORD = {"boolean": "boolean", "int": "integer", "double": "double", "currency": "currency",
              "percent": "percent", "date": "date", "datetime": "dateTime", "id": "id", "reference": "id"}


def _type_error(query: Query, fdef: FieldDef, lit: Literal) -> Exception:
    quoted = fdef.type in STRING_TYPES or fdef.type in ("id", "reference")
    word = "string" if fdef.type in STRING_TYPES else _TYPE_WORD.get(fdef.type, fdef.type)
    how = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
    return soql_error(query.text, lit.pos, "INVALID_FIELD",
                      f"value of filter criterion for field '{fdef.name}' must be of type {word} and {how}")


def keyword_range(word: str, ftype: str, now_ms: int) -> tuple[Any, Any]:
    """[start, end) of a relative date literal, as epoch ms (dateTime) or ISO dates (date)."""
    today = datetime.fromtimestamp(now_ms / 1000, tz=UTC).replace(hour=0, minute=0, second=0,
                                                                           microsecond=0)
    word = word.upper()
    if word == "TODAY":
        start, end = today, today + timedelta(days=1)
    elif word == "YESTERDAY":
        start, end = today - timedelta(days=1), today
    elif word == "TOMORROW":
        start, end = today + timedelta(days=1), today + timedelta(days=2)
    else:
        n = int(word.split(":")[1])
        if word.startswith("LAST"):
            start, end = today - timedelta(days=n), today + timedelta(days=1)
        else:
            start, end = today, today + timedelta(days=n + 1)
    if ftype == "date":
        return start.date().isoformat(), end.date().isoformat()
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def literal_value(query: Query, fdef: FieldDef, lit: Literal, now_ms: int) -> Any:
    """A literal converted to the stored representation of `fdef` (INVALID_FIELD on a type clash)."""
    if lit.kind == "null":
        return None
    ftype = fdef.type
    if ftype in STRING_TYPES:
        if lit.kind != "string":
            raise _type_error(query, fdef, lit)
        return lit.value
    if ftype in ("id", "reference"):
        if lit.kind != "string":
            raise _type_error(query, fdef, lit)
        try:
            return to_18(lit.value)
        except InvalidSalesforceId:
            raise soql_error(query.text, lit.pos, "INVALID_QUERY_FILTER_OPERATOR",
                             f"invalid ID field: {lit.value}") from None
    if ftype == "boolean":
        if lit.kind != "boolean":
            raise _type_error(query, fdef, lit)
        return lit.value
    if ftype in NUMBER_TYPES:
        if lit.kind != "number":
            raise _type_error(query, fdef, lit)
        return lit.value
    if ftype == "datetime":
        if lit.kind == "keyword":
            return keyword_range(lit.value, ftype, now_ms)
        if lit.kind != "datetime":
            raise _type_error(query, fdef, lit)
        return parse_datetime_text(lit.value)
    if ftype == "date":
        if lit.kind == "keyword":
            return keyword_range(lit.value, ftype, now_ms)
        if lit.kind != "date":
            raise _type_error(query, fdef, lit)
        return lit.value
    raise _type_error(query, fdef, lit)


def _compile_cmp(query: Query, table: AnyTable, node: Cmp, now_ms: int) -> Pred:
    fdef = table.schema.get(node.field)
    if fdef is None:
        from .engine import resolve_field  # the message lives with the other resolution errors
        resolve_field(query, table, node.field, node.pos)
        raise AssertionError("unreachable")
    pos = fdef.pos
    op = node.op
    lower = fdef.type in STRING_TYPES
    if op in ("IN", "NOTIN"):
        values = {literal_value(query, fdef, lit, now_ms) for lit in node.value}  # type: ignore[union-attr]
        if any(isinstance(v, tuple) for v in values):
            raise soql_error(query.text, node.pos, "MALFORMED_QUERY", "date literals are not allowed in IN")
        if lower:
            values = {v.lower() if isinstance(v, str) else v for v in values}
            if op == "IN":
                return lambda r: (r[pos].lower() if r[pos] is not None else None) in values
            return lambda r: (r[pos].lower() if r[pos] is not None else None) not in values
        if op == "IN":
            return lambda r: r[pos] in values
        return lambda r: r[pos] not in values
    lit = node.value
    assert isinstance(lit, Literal)
    if op == "LIKE":
        if not lower:
            raise soql_error(query.text, node.pos, "INVALID_QUERY_FILTER_OPERATOR",
                             f"invalid operator on {_TYPE_WORD.get(fdef.type, fdef.type)} field: {fdef.name}")
        regex = re.compile(lit.like or "", re.IGNORECASE | re.DOTALL)
        match = regex.fullmatch
        return lambda r: r[pos] is not None and match(r[pos]) is not None
    value = literal_value(query, fdef, lit, now_ms)
    if fdef.type == "boolean" and op not in ("=", "!="):
        raise soql_error(query.text, node.pos, "INVALID_QUERY_FILTER_OPERATOR",
                         f"invalid operator on boolean field: {fdef.name}")
    if isinstance(value, tuple):  # relative date range [start, end)
        start, end = value
        ranges = {
            "=": lambda v: start <= v < end, "!=": lambda v: not (start <= v < end),
            "<": lambda v: v < start, "<=": lambda v: v < end, ">": lambda v: v >= end, ">=": lambda v: v >= start,
        }
        test = ranges[op]
        if op == "!=":
            return lambda r: r[pos] is None or test(r[pos])
        return lambda r: r[pos] is not None and test(r[pos])
    if value is None:
        if op == "=":
            return lambda r: r[pos] is None
        if op == "!=":
            return lambda r: r[pos] is not None
        return lambda r: False
    if lower:
        value = value.lower()
        get = lambda r: r[pos].lower()  # noqa: E731
    else:
        get = lambda r: r[pos]  # noqa: E731
    if op == "=":
        return lambda r: r[pos] is not None and get(r) == value
    if op == "!=":
        return lambda r: r[pos] is None or get(r) != value
    if op == "<":
        return lambda r: r[pos] is not None and get(r) < value
    if op == "<=":
        return lambda r: r[pos] is not None and get(r) <= value
    if op == ">":
        return lambda r: r[pos] is not None and get(r) > value
    return lambda r: r[pos] is not None and get(r) >= value


def compile_node(query: Query, table: AnyTable, node: Node, now_ms: int) -> Pred:
    """A predicate over rows for a WHERE tree."""
    if isinstance(node, Cmp):
        return _compile_cmp(query, table, node, now_ms)
    if isinstance(node, Not):
        inner = compile_node(query, table, node.item, now_ms)
        return lambda r: not inner(r)
    parts = [compile_node(query, table, item, now_ms) for item in node.items]
    if node.op == "AND":
        if len(parts) == 2:
            a, b = parts
            return lambda r: a(r) and b(r)
        return lambda r: all(p(r) for p in parts)
    if len(parts) == 2:
        a, b = parts
        return lambda r: a(r) or b(r)
    return lambda r: any(p(r) for p in parts)
