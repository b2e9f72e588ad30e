"""The org's own Salesforce ids: key prefixes and the 3-character checksum of the 18-character form.

Written for the sandbox alone, apart from the sync it tests, so that a checksum mistake cannot hide
in both at once; tests/test_ids.py checks it against ids published outside this project.

Salesforce ids are 15 case-sensitive characters; the 18-character form appends, for each group of
5, one character (from A-Z then 0-5) whose bits say which of the 5 are upper-case letters. Like the
API, the org accepts either form; an 18-character id whose case was lost by some tool (all lower or
all upper) gets its case back from the checksum, and any other mismatch is refused.
"""

from __future__ import annotations

import string

KEY_PREFIXES = {"Account": "001", "Contact": "003", "Lead": "00Q"}
OBJECT_BY_PREFIX = {prefix: sobject for sobject, prefix in KEY_PREFIXES.items()}

_CHECK_CHARS = string.ascii_uppercase + "012345"  # 32 symbols, one per 5-bit value
_ALNUM = frozenset(string.ascii_letters + string.digits)
# Each id character as "1" (upper-case letter) or "0"; the bits of a group are read right to left.
_UPPER_FLAGS = str.maketrans({c: "1" if c in string.ascii_uppercase else "0"
                              for c in string.ascii_letters + string.digits})


class InvalidSalesforceId(ValueError):
    """A value the org does not read as a 15- or 18-character record id."""


def checksum(id15: str) -> str:
    """The 3 characters Salesforce appends to the 15-character id `id15`."""
    flags = id15.translate(_UPPER_FLAGS)
    return "".join(_CHECK_CHARS[int(flags[start:start + 5][::-1], 2)] for start in (0, 5, 10))


def _malformed(value: object) -> InvalidSalesforceId:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return InvalidSalesforceId(f"{shown} is not a Salesforce id (expected 15 or 18 letters and digits).")


def _case_from_checksum(id15: str, check: str) -> str | None:
    """`id15` with the letter case `check` encodes, or None when `check` calls a digit upper case."""
    out = []
    for group, symbol in enumerate(check):
        value = _CHECK_CHARS.index(symbol)
        for char in id15[group * 5:group * 5 + 5]:
            upper, value = value & 1, value >> 1
            if char.isdigit():
                if upper:
                    return None
                out.append(char)
            else:
                out.append(char.upper() if upper else char.lower())
    return "".join(out)


def to_18(value: object) -> str:
    """The 18-character form of an id given in either form; `InvalidSalesforceId` otherwise."""
    if not isinstance(value, str):
        raise _malformed(value)
    text = value.strip()
    if len(text) not in (15, 18) or not _ALNUM.issuperset(text):
        raise _malformed(value)
    id15, given = text[:15], text[15:].upper()
    expected = checksum(id15)
    if not given or given == expected:
        return id15 + expected
    letters = "".join(c for c in id15 if c.isalpha())
    restored = _case_from_checksum(id15, given) if letters in (letters.lower(), letters.upper()) else None
    if restored is None or checksum(restored) != given:
        raise InvalidSalesforceId(
            f"{text} is not a Salesforce id: its last 3 characters are not the checksum of the first 15 "
            f"(expected {expected}).")
    return restored + given
