"""SOQL lexer and parser for the subset the sandbox serves.

Supported: `SELECT` field list or `COUNT()` / `COUNT(field) [alias]`, `FROM` one object, `WHERE`
with AND/OR/NOT and parentheses (AND and OR cannot be mixed at one level without parentheses, as in
Salesforce), `= != <> < <= > >=`, `[NOT] IN (...)`, `LIKE`, string/number/boolean/null literals,
dateTime and date literals (all forms `format_soql` emits), TODAY/YESTERDAY/TOMORROW/
LAST_N_DAYS:n/NEXT_N_DAYS:n, `ORDER BY` (ASC/DESC, NULLS FIRST/LAST), `LIMIT`, `OFFSET`.
Anything else is a MALFORMED_QUERY with Salesforce's "ERROR at Row:r:Column:c" message layout.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import SandboxError

logger = logging.getLogger(__name__)

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<baddate>\d{4}-\d{2}-\d{2}T[\d:.]*)
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<string>')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*(?::\d+)?)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
            "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "GROUP", "HAVING",
            "WITH", "FOR", "USING", "INCLUDES", "EXCLUDES", "TYPEOF"}
DATE_KEYWORDS = re.compile(r"^(TODAY|YESTERDAY|TOMORROW|LAST_N_DAYS:\d+|NEXT_N_DAYS:\d+)$", re.IGNORECASE)


@dataclass
class Token:
    kind: str
    text: str
    pos: int
    value: Any = None
    like: str | None = None  # regex source for LIKE patterns (string tokens)

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass
class Literal:
    """A value in a WHERE clause. kind: string, number, boolean, null, datetime, date, keyword."""

    kind: str
    value: Any
    pos: int
    text: str
    like: str | None = None


@dataclass
class Cmp:
    field: str
    pos: int
    op: str  # = != < <= > >= IN NOTIN LIKE
    value: Literal | list[Literal]


@dataclass
class BoolOp:
    op: str  # AND / OR
    items: list[Node]


@dataclass
class Not:
    item: Node


Node = Cmp | BoolOp | Not


@dataclass
class SelectItem:
    name: str | None  # None for COUNT()
    pos: int
    aggregate: str | None = None
    alias: str | None = None


@dataclass
class OrderItem:
    field: str
    pos: int
    desc: bool = False
    nulls_first: bool | None = None


@dataclass
class Query:
    text: str
    select: list[SelectItem]
    sobject: str
    sobject_pos: int
    where: Node | None = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None

    @property
    def count_only(self) -> bool:
        return len(self.select) == 1 and self.select[0].aggregate == "COUNT" and self.select[0].name is None


def soql_error(text: str, pos: int, code: str, message: str) -> SandboxError:
    """An error with Salesforce's layout: the query line, a caret, `ERROR at Row:r:Column:c`."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start: line_end if line_end >= 0 else len(text)]
    row = text.count("\n", 0, pos) + 1
    col = pos - line_start + 1
    return SandboxError(code, f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{message}")


def _read_string(text: str, start: int) -> tuple[str, str, int]:
    """Decode a quoted literal starting after the quote; returns (value, like-regex, end)."""
    out: list[str] = []
    like: list[str] = []
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "'":
            return "".join(out), "".join(like), i + 1
        if ch == "\\":
            nxt = text[i + 1: i + 2]
            if nxt.lower() in _ESCAPES or nxt in _ESCAPES:
                decoded = _ESCAPES.get(nxt.lower(), _ESCAPES.get(nxt, nxt))
                out.append(decoded)
                like.append(re.escape(decoded))
            elif nxt in ("%", "_"):
                out.append(nxt)
                like.append(re.escape(nxt))
            else:
                raise soql_error(text, i, "MALFORMED_QUERY",
                                 f"Invalid string literal '{text[start:i + 2]}'. Illegal character sequence "
                                 f"'\\{nxt}' in string literal.")
            i += 2
            continue
        out.append(ch)
        like.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    raise soql_error(text, start - 1, "MALFORMED_QUERY", "unterminated string literal")


def tokenize(text: str) -> list[Token]:
    """Split a SOQL statement into tokens (MALFORMED_QUERY on a character it can't read)."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        match = _TOKEN_RE.match(text, i)
        if not match:
            raise soql_error(text, i, "MALFORMED_QUERY", f"line 1:{i} no viable alternative at character "
                             f"'{text[i]}'")
        kind = match.lastgroup or ""
        if kind == "ws":
            i = match.end()
            continue
        if kind == "string":
            value, like, end = _read_string(text, match.end())
            tokens.append(Token("string", text[i:end], i, value, like))
            i = end
            continue
        if kind == "baddate":
            raise soql_error(text, i, "MALFORMED_QUERY", f"unexpected token: '{match.group()}'")
        tokens.append(Token(kind, match.group(), i))
        i = match.end()
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens


class Parser:
    """Recursive-descent parser producing a `Query`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # ------------------------------------------------------------------ helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, tok: Token | None = None, message: str | None = None) -> SandboxError:
        tok = tok or self.tok
        text = tok.text if tok.kind != "eof" else "<EOF>"
        return soql_error(self.text, tok.pos, "MALFORMED_QUERY", message or f"unexpected token: '{text}'")

    def is_kw(self, *words: str) -> bool:
        return self.tok.kind == "ident" and self.tok.upper in words

    def expect_kw(self, word: str) -> Token:
        if not self.is_kw(word):
            raise self.error()
        return self.advance()

    def expect_punct(self, ch: str) -> Token:
        if self.tok.kind != "punct" or self.tok.text != ch:
            raise self.error()
        return self.advance()

    def field_name(self) -> Token:
        if self.tok.kind != "ident" or self.tok.upper in KEYWORDS - {"FIRST", "LAST"}:
            raise self.error()
        return self.advance()

    # ------------------------------------------------------------------ grammar
    def parse(self) -> Query:
        self.expect_kw("SELECT")
        select = self.select_list()
        self.expect_kw("FROM")
        obj = self.field_name()
        query = Query(self.text, select, obj.text, obj.pos)
        if self.is_kw("WHERE"):
            self.advance()
            query.where = self.condition()
        if self.is_kw("WITH", "GROUP", "HAVING", "USING", "TYPEOF"):
            raise self.error(message=f"{self.tok.upper} clauses are not supported by the sandbox org: "
                             f"unexpected token: '{self.tok.text}'")
        if self.is_kw("ORDER"):
            self.advance()
            self.expect_kw("BY")
            query.order = self.order_list()
        if self.is_kw("LIMIT"):
            self.advance()
            query.limit = self.integer()
        if self.is_kw("OFFSET"):
            self.advance()
            query.offset = self.integer()
        if self.tok.kind != "eof":
            raise self.error()
        return query

    def integer(self) -> int:
        tok = self.tok
        if tok.kind != "number" or not tok.text.lstrip("+").isdigit():
            raise self.error()
        self.advance()
        return int(tok.text)

    def select_list(self) -> list[SelectItem]:
        items: list[SelectItem] = []
        while True:
            tok = self.tok
            if self.is_kw("COUNT") and self.tokens[self.i + 1].text == "(":
                self.advance()
                self.advance()
                name = None if self.tok.text == ")" else self.field_name().text
                self.expect_punct(")")
                alias = None
                if self.tok.kind == "ident" and self.tok.upper not in KEYWORDS:
                    alias = self.advance().text
                items.append(SelectItem(name, tok.pos, "COUNT", alias))
            elif tok.kind == "punct" and tok.text == "(":
                raise self.error(message="unexpected token: '(' (sub-queries are not supported by the sandbox org)")
            else:
                if tok.kind == "ident" and tok.upper in ("FIELDS", "TYPEOF") and self.tokens[self.i + 1].text == "(":
                    raise self.error(message=f"unexpected token: '{tok.text}' (not supported by the sandbox org)")
                items.append(SelectItem(self.field_name().text, tok.pos))
            if self.tok.kind == "punct" and self.tok.text == ",":
                self.advance()
                continue
            break
        if any(item.aggregate == "COUNT" and item.name is None for item in items) and len(items) > 1:
            raise self.error(message="COUNT() must be the only element in the SELECT list.")
        return items

    def condition(self) -> Node:
        first = self.unary()
        items = [first]
        op: str | None = None
        while self.is_kw("AND", "OR"):
            word = self.tok.upper
            if op is not None and word != op:
                raise self.error()
            op = word
            self.advance()
            items.append(self.unary())
        return BoolOp(op, items) if op else first

    def unary(self) -> Node:
        if self.is_kw("NOT"):
            self.advance()
            return Not(self.unary())
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.advance()
            node = self.condition()
            self.expect_punct(")")
            return node
        return self.comparison()

    def comparison(self) -> Cmp:
        name = self.field_name()
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            op = "!=" if tok.text == "<>" else tok.text
            return Cmp(name.text, name.pos, op, self.literal())
        if self.is_kw("LIKE"):
            self.advance()
            value = self.literal()
            if value.kind != "string":
                raise self.error(message=f"unexpected token: '{value.text}'")
            return Cmp(name.text, name.pos, "LIKE", value)
        negate = False
        if self.is_kw("NOT"):
            self.advance()
            negate = True
            if not self.is_kw("IN"):
                raise self.error()
        if self.is_kw("IN"):
            self.advance()
            self.expect_punct("(")
            if self.is_kw("SELECT"):
                raise self.error(message="unexpected token: 'SELECT' (semi-joins are not supported by the sandbox org)")
            values = [self.literal()]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.advance()
                values.append(self.literal())
            self.expect_punct(")")
            return Cmp(name.text, name.pos, "NOTIN" if negate else "IN", values)
        raise self.error()

    def literal(self) -> Literal:
        tok = self.advance()
        if tok.kind == "string":
            return Literal("string", tok.value, tok.pos, tok.text, tok.like)
        if tok.kind == "number":
            number = float(tok.text) if "." in tok.text else int(tok.text)
            return Literal("number", number, tok.pos, tok.text)
        if tok.kind == "datetime":
            return Literal("datetime", tok.text, tok.pos, tok.text)
        if tok.kind == "date":
            return Literal("date", tok.text, tok.pos, tok.text)
        if tok.kind == "ident":
            word = tok.upper
            if word in ("TRUE", "FALSE"):
                return Literal("boolean", word == "TRUE", tok.pos, tok.text)
            if word == "NULL":
                return Literal("null", None, tok.pos, tok.text)
            if DATE_KEYWORDS.match(tok.text):
                return Literal("keyword", word, tok.pos, tok.text)
        raise self.error(tok)

    def order_list(self) -> list[OrderItem]:
        items: list[OrderItem] = []
        while True:
            name = self.field_name()
            item = OrderItem(name.text, name.pos)
            if self.is_kw("ASC", "DESC"):
                item.desc = self.advance().upper == "DESC"
            if self.is_kw("NULLS"):
                self.advance()
                if not self.is_kw("FIRST", "LAST"):
                    raise self.error()
                item.nulls_first = self.advance().upper == "FIRST"
            items.append(item)
            if self.tok.kind == "punct" and self.tok.text == ",":
                self.advance()
                continue
            return items


def parse(text: str) -> Query:
    """Parse a SOQL statement (raises SandboxError MALFORMED_QUERY)."""
    if not text or not text.strip():
        raise SandboxError("MALFORMED_QUERY", "A query string has to be specified")
    return Parser(text).parse()
