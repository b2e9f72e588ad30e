"""SOQL execution: bind a parsed query to a table, plan it on the indexes, evaluate it.

Planning (top-level AND conjuncts only): `Id =`/`Id IN` and equality on hash-indexed fields read
candidate rows directly; range conditions on SystemModstamp become a slice of the (SystemModstamp,
Id)-sorted index, which also serves `ORDER BY SystemModstamp[, Id]` without sorting. Everything else
is a scan. The result is a snapshot: stored rows are immutable, so the list of rows taken here is
what every later page shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .blocklist import Window
from .errors import SandboxError
from .schema import STRING_TYPES, FieldDef
from .soql import BoolOp, Cmp, Literal, Node, Query, soql_error
from .store import AnyTable
from .values import parse_datetime_text
from .where import compile_node, literal_value

logger = logging.getLogger(__name__)

Pred = Callable[[list], bool]
_ROW = itemgetter(2)
MAX_OFFSET = 2000

FIELD_HINT = ("If you are attempting to use a custom field, be sure to append the '__c' after the custom "
              "field name. Please reference your WSDL or the describe call for the appropriate names.")


@dataclass
class Result:
    """A query's frozen result: rows (a list, or a `Window` of index entries), select list, size."""

    sobject: str
    fields: list[FieldDef]
    items: list | Window
    total: int
    count_only: bool = False
    aggregate: dict[str, Any] | None = None

    def rows(self, start: int, stop: int) -> list[list]:
        if isinstance(self.items, Window):
            return [e[2] for e in self.items.entries(start, stop)]
        return self.items[start:stop]

    def all_rows(self) -> list[list]:
        return self.rows(0, self.total)


def resolve_object(query: Query, tables: Mapping[str, AnyTable]) -> AnyTable:
    """The table named in FROM (case-insensitive), else INVALID_TYPE."""
    for name, table in tables.items():
        if name.lower() == query.sobject.lower():
            return table
    raise soql_error(query.text, query.sobject_pos, "INVALID_TYPE",
                     f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom "
                     f"object, be sure to append the '__c' after the entity name. Please reference your WSDL or "
                     f"the describe call for the appropriate names.")


def resolve_field(query: Query, table: AnyTable, name: str, pos: int) -> FieldDef:
    """A field of the FROM object (case-insensitive), else INVALID_FIELD with Salesforce's text."""
    fdef = table.schema.get(name)
    if fdef is None:
        if "." in name:
            rel = name.split(".")[0]
            raise soql_error(query.text, pos, "INVALID_FIELD",
                             f"Didn't understand relationship '{rel}' in field path. If you are attempting to "
                             f"use a custom relationship, be sure to append the '__r' after the custom "
                             f"relationship name. Please reference your WSDL or the describe call for the "
                             f"appropriate names.")
        raise soql_error(query.text, pos, "INVALID_FIELD",
                         f"No such column '{name}' on entity '{table.schema.name}'. {FIELD_HINT}")
    return fdef


def _conjuncts(node: Node | None) -> list[Node]:
    if node is None:
        return []
    if isinstance(node, BoolOp) and node.op == "AND":
        return list(node.items)
    return [node]


def _sms_bounds(query: Query, table: AnyTable, conj: list[Node], now_ms: int):
    """Bounds from top-level SystemModstamp comparisons with dateTime literals, and the rest."""
    lo, lo_incl, hi, hi_incl = None, True, None, True
    rest: list[Node] = []
    used = False
    for node in conj:
        if (isinstance(node, Cmp) and node.field.lower() == "systemmodstamp" and isinstance(node.value, Literal)
                and node.value.kind == "datetime" and node.op in ("=", ">", ">=", "<", "<=")):
            ms = parse_datetime_text(node.value.value)
            used = True
            if node.op in (">", ">=", "="):
                incl = node.op != ">"
                if lo is None or ms > lo or (ms == lo and not incl):
                    lo, lo_incl = ms, incl
            if node.op in ("<", "<=", "="):
                incl = node.op != "<"
                if hi is None or ms < hi or (ms == hi and not incl):
                    hi, hi_incl = ms, incl
        else:
            rest.append(node)
    return used, (lo, lo_incl, hi, hi_incl), rest


def _lookup_ids(query: Query, table: AnyTable, conj: list[Node], now_ms: int) -> list[str] | None:
    """Candidate ids from an `Id`/hash-indexed equality or IN among the top-level conjuncts."""
    best: list[str] | None = None
    for node in conj:
        if not isinstance(node, Cmp) or node.op not in ("=", "IN"):
            continue
        fdef = resolve_field(query, table, node.field, node.pos)
        if fdef.name != "Id" and fdef.pos not in table.hidx:
            continue
        lits = node.value if isinstance(node.value, list) else [node.value]
        if any(lit.kind == "null" for lit in lits):
            continue
        values = [literal_value(query, fdef, lit, now_ms) for lit in lits]
        if fdef.name == "Id":
            ids = [v for v in dict.fromkeys(values) if v in table.rows]
        else:
            found: dict[str, None] = {}
            for v in values:
                for rid in table.lookup(fdef.pos, v):
                    found[rid] = None
            ids = list(found)
        if best is None or len(ids) < len(best):
            best = ids
    return best


def _index_order(query: Query, table: AnyTable) -> bool | None:
    """True/False when ORDER BY is served by the SystemModstamp index ascending/descending, else None."""
    names = [(item.field.lower(), item.desc) for item in query.order]
    if not names:
        return None
    if names[0][0] != "systemmodstamp" or len(names) > 2:
        return None
    desc = names[0][1]
    if len(names) == 2 and names[1] != ("id", desc):
        return None
    return desc


def _sort(rows: list[list], query: Query, table: AnyTable) -> list[list]:
    """Stable multi-key sort: strings case-insensitive, nulls first ascending / last descending."""
    for item in reversed(query.order):
        fdef = resolve_field(query, table, item.field, item.pos)
        pos = fdef.pos
        nulls_first = (not item.desc) if item.nulls_first is None else item.nulls_first
        null_flag = 0 if nulls_first != item.desc else 1
        lower = fdef.type in STRING_TYPES

        def key(row: list, pos: int = pos, flag: int = null_flag, lower: bool = lower) -> tuple:
            v = row[pos]
            if v is None:
                return (flag, None)
            return (1 - flag, v.lower() if lower else v)

        rows.sort(key=key, reverse=item.desc)
    return rows


def execute(query: Query, tables: Mapping[str, AnyTable], include_deleted: bool, now_ms: int) -> Result:
    """Run a parsed query against the tables (caller holds the org lock)."""
    table = resolve_object(query, tables)
    schema = table.schema
    fields: list[FieldDef] = []
    seen: set[str] = set()
    for item in query.select:
        if item.name is None:
            continue
        fdef = resolve_field(query, table, item.name, item.pos)
        if fdef.name in seen and not item.aggregate:
            raise soql_error(query.text, item.pos, "MALFORMED_QUERY", f"duplicate field selected: {fdef.name}")
        seen.add(fdef.name)
        fields.append(fdef)
    for order_item in query.order:
        resolve_field(query, table, order_item.field, order_item.pos)
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SandboxError("NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
    pred = compile_node(query, table, query.where, now_ms) if query.where is not None else None
    conj = _conjuncts(query.where)
    del_pos = table.del_pos
    items: list | Window
    presorted = False
    ids = _lookup_ids(query, table, conj, now_ms) if conj else None
    if ids is not None:
        rows = [table.rows[rid] for rid in ids]
        items = [r for r in rows if (include_deleted or not r[del_pos]) and (pred is None or pred(r))]
        items.sort(key=itemgetter(0))
    else:
        used, (lo, lo_incl, hi, hi_incl), rest = _sms_bounds(query, table, conj, now_ms)
        order = _index_order(query, table)
        if used or order is not None:
            i, j = table.sms_bounds(include_deleted, lo, lo_incl, hi, hi_incl)
            if query.count_only and not rest and query.limit is None and not query.offset:
                return Result(schema.name, [], [], j - i, count_only=True)
            window = table.sorted_entries(include_deleted).window(i, j, reverse=bool(order))
            if rest:
                residual = compile_node(query, table, BoolOp("AND", rest) if len(rest) > 1 else rest[0], now_ms)
                items = [e[2] for e in window if residual(e[2])]
            else:
                items = window
            presorted = order is not None
        else:
            all_rows = table.rows.values()
            if include_deleted:
                items = [r for r in all_rows if pred(r)] if pred else list(all_rows)
            else:
                items = [r for r in all_rows if not r[del_pos] and (pred is None or pred(r))]
    if query.order and not presorted:
        if isinstance(items, Window):
            items = [e[2] for e in items]
        items = _sort(items, query, table)
    if query.offset or query.limit is not None:
        stop = None if query.limit is None else (query.offset or 0) + query.limit
        items = items.slice(query.offset or 0, stop) if isinstance(items, Window) \
            else items[query.offset or 0: stop]
    if query.count_only:
        return Result(schema.name, [], [], len(items), count_only=True)
    aggregates = [item for item in query.select if item.aggregate]
    if aggregates:
        if len(aggregates) != len(query.select):
            raise soql_error(query.text, aggregates[0].pos, "MALFORMED_QUERY",
                             "Field must be grouped or aggregated: " + (fields[0].name if fields else "Id"))
        agg: dict[str, Any] = {}
        rows = [e[2] for e in items] if isinstance(items, Window) else items
        for n, item in enumerate(aggregates):
            fdef = resolve_field(query, table, item.name or "Id", item.pos)
            agg[item.alias or f"expr{n}"] = sum(1 for r in rows if r[fdef.pos] is not None)
        return Result(schema.name, [], [], 1, aggregate=agg)
    return Result(schema.name, fields, items, len(items))
