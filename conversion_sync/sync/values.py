"""What Conversion accepts as a value: the one rule for email addresses and field lengths.

Every way a value enters — a pulled Salesforce record (R4, H2), `contacts add`/`import`/`set`,
`api.identify` (P1) — asks these functions, so a value is refused or kept pending for the same
reason everywhere, and nothing that reaches the database can be too long for its column or hold a
character the database refuses (PostgreSQL text cannot hold NUL; neither database can store a
lone UTF-16 surrogate). Pure functions, no I/O.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any

# RFC 5321: a forward path is at most 256 octets including the angle brackets, so an address is
# at most 254 characters; the local part at most 64.
MAX_EMAIL_LENGTH = 254
MAX_EMAIL_LOCAL_LENGTH = 64
# The matching key's column (contacts.email_key, salesforce_records.email_key). Lower-casing can
# lengthen a text (U+0130 becomes two characters), so the key is checked after it.
MAX_EMAIL_KEY_LENGTH = 320
# contact_identifiers.value (user_id, cookie).
MAX_IDENTIFIER_LENGTH = 512
# Any other text field: Salesforce's longest text (a Long Text Area holds 131,072 characters).
MAX_TEXT_LENGTH = 131_072

# One address: no spaces or control characters, one @, a dot in the domain, no empty labels.
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f.]+(\.[^@\s\x00-\x1f\x7f.]+)+$")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


class BadValue(ValueError):
    """A value Conversion cannot take; the message is one sentence (without a final period)."""


def shown(text: str, limit: int = 40) -> str:
    """A value for a message: quoted, and cut short so a 10 MB value never fills the screen."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def unstorable_problem(text: str) -> str | None:
    """Why the database cannot store `text` (a NUL or a lone surrogate), or None."""
    match = _UNSTORABLE.search(text)
    if match is None:
        return None
    return ("holds a NUL character, which the database cannot store" if match.group() == "\x00"
            else "holds an invalid character (a lone UTF-16 surrogate), which the database cannot store")


def storable(text: str) -> str:
    """`text` with the characters the database refuses replaced by U+FFFD (for the mirror, which
    must hold every pulled record; the record itself stays pending with its problem)."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def as_text(value: Any) -> str | None:
    """A scalar in the one text form Conversion stores: trimmed, blanks as None, booleans as
    true/false, whole numbers without a fraction. Other kinds (lists, mappings, bytes) are
    refused."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadValue(f"{value!r} is not a value a contact field can hold")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise BadValue(f"a {type(value).__name__} is not text")
    text = value.strip()
    return text or None


def max_length(field: str) -> int:
    """The longest value the Conversion field `field` takes."""
    if field == "email":
        return MAX_EMAIL_LENGTH
    if field in ("user_id", "cookie"):
        return MAX_IDENTIFIER_LENGTH
    return MAX_TEXT_LENGTH


def text_problem(text: str, limit: int = MAX_TEXT_LENGTH) -> str | None:
    """Why `text` cannot be stored as a field value (characters, then length), or None."""
    problem = unstorable_problem(text)
    if problem:
        return problem
    if len(text) > limit:
        return f"is {len(text):,} characters long; at most {limit:,} fit"
    return None


def email_problem(text: str) -> str | None:
    """Why `text` (trimmed, not blank) is not one email address, or None when it is one."""
    problem = unstorable_problem(text)
    if problem:
        return f"the email address {problem}"
    if len(text) > MAX_EMAIL_LENGTH:
        return (f"{shown(text)} is not an email address: it is {len(text):,} characters long and an "
                f"address has at most {MAX_EMAIL_LENGTH}")
    if not _EMAIL.match(text):
        return f"{shown(text)} is not an email address (expected one address like name@example.com)"
    if len(text.rsplit("@", 1)[0]) > MAX_EMAIL_LOCAL_LENGTH:
        return (f"{shown(text)} is not an email address: the part before @ has more than "
                f"{MAX_EMAIL_LOCAL_LENGTH} characters")
    return None


def is_email(value: Any) -> bool:
    try:
        text = as_text(value)
    except BadValue:
        return False
    return text is not None and email_problem(text) is None


def email_key(value: Any) -> str | None:
    """The matching form of an email (R4b, P2): trimmed and lower-cased; None when blank or when
    it cannot be an address at all (too long, unstorable), so the key always fits its column.
    Remembered for recent texts: the apply asks for a record's and a contact's key many times
    (issue 10), and the rule is a pure function of the text."""
    return _text_email_key(value) if type(value) is str else _email_key(value)


@functools.lru_cache(maxsize=65_536)
def _text_email_key(text: str) -> str | None:
    return _email_key(text)


def _email_key(value: Any) -> str | None:
    try:
        text = as_text(value)
    except BadValue:
        return None
    if text is None or len(text) > MAX_EMAIL_LENGTH or unstorable_problem(text):
        return None
    key = text.lower()
    return key if len(key) <= MAX_EMAIL_KEY_LENGTH else None


def email_domain(value: Any) -> str | None:
    """The domain of an email's matching key (the part after the last @), or None when the email
    has no key or no @ (push: a new Contact joins the Account of its domain)."""
    key = email_key(value)
    if not key or "@" not in key:
        return None
    return key.rsplit("@", 1)[1] or None


def checked_email(value: Any) -> str | None:
    """An entered email, trimmed (None when blank); BadValue with one sentence when it is not
    one address."""
    try:
        text = as_text(value)
    except BadValue as exc:
        raise BadValue(f"the email is not text ({exc})") from None
    if text is None:
        return None
    problem = email_problem(text)
    if problem:
        raise BadValue(problem)
    return text


def checked_field(field: str, value: Any) -> str | None:
    """An entered value of the Conversion field `field`, in stored form (None when blank);
    BadValue with one sentence naming the field when it cannot be taken."""
    if field == "email":
        return checked_email(value)
    try:
        text = as_text(value)
    except BadValue as exc:
        raise BadValue(f"{field} must be text or a number ({exc})") from None
    if text is None:
        return None
    problem = text_problem(text, max_length(field))
    if problem:
        raise BadValue(f"{field} {problem}")
    return text


def any_unstorable(texts: list[str]) -> bool:
    """Whether any of `texts` holds a character the database refuses: one search over all of
    them (issue 10: a record's values are checked together, not one by one)."""
    return _UNSTORABLE.search("".join(texts)) is not None


def first_pulled_problem(fields: Mapping[str, Any]) -> str | None:
    """The first of `fields` (pulled texts, or None) whose value cannot be applied (H2), as a
    sentence (`pulled_value_problem`), or None: the one check of pulled values, made when a
    record is parsed (its `problem`, kept in the mirror) and again before it is applied. When
    no value holds an unstorable character, only the email and an over-long text can fail, so
    only those are checked one by one."""
    storable_all = not any_unstorable([value for value in fields.values() if isinstance(value, str)])
    for name, value in fields.items():
        if isinstance(value, str) and (not storable_all or name == "Email" or len(value) > MAX_TEXT_LENGTH):
            problem = pulled_value_problem(name, value)
            if problem:
                return problem
    return None


def pulled_value_problem(name: str, text: str) -> str | None:
    """Why the pulled Salesforce field `name` cannot be applied (it stays pending), or None."""
    if name == "Email":
        problem = email_problem(text)
        return f"invalid email: {problem}" if problem else None
    problem = text_problem(text)
    return f"{name} {problem}" if problem else None
