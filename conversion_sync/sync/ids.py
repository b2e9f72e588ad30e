"""Salesforce record ids (R4d): 15-character case-sensitive ids and their 18-character form.

Salesforce appends a 3-character checksum to the case-sensitive 15-character id so that the
18-character form is unique even when compared case-insensitively: each suffix character says
which letters of one 5-character chunk are upper case. Conversion always stores and compares the
18-character form.

An 18-character id is accepted when its suffix agrees with the case of its first 15 characters,
and also when a tool changed the case of the whole id (all letters lower or all upper): the
suffix then restores the case. Any other disagreement is a mistyped id, which is refused rather
than guessed (the first 15 characters alone might name another record).
"""

from __future__ import annotations

import functools
import re

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")

# Key prefixes of the objects the sync works with.
KEY_PREFIXES = {"Account": "001", "Contact": "003", "Lead": "00Q"}
OBJECT_BY_PREFIX = {prefix: sobject for sobject, prefix in KEY_PREFIXES.items()}


class InvalidSalesforceId(ValueError):
    """A value that is not a 15- or 18-character Salesforce id."""


def checksum_suffix(id15: str) -> str:
    """The 3-character suffix of a 15-character id: one character per 5-character chunk, whose
    bit i is set when the chunk's i-th character is an upper-case letter."""
    return _chunk_suffix(id15[0:5]) + _chunk_suffix(id15[5:10]) + _chunk_suffix(id15[10:15])


@functools.lru_cache(maxsize=8_192)
def _chunk_suffix(chunk: str) -> str:
    """The suffix character of one chunk (ids share most of their chunks: remembered, issue 10)."""
    bits = 0
    for position, char in enumerate(chunk):
        if "A" <= char <= "Z":
            bits |= 1 << position
    return _SUFFIX_ALPHABET[bits]


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _restored_case(id15: str, suffix: str) -> str | None:
    """The 15 characters with the case the suffix describes, or None when the suffix marks a
    digit as an upper-case letter (so it cannot be this id's checksum)."""
    chars = []
    for chunk, code in enumerate(suffix.upper()):
        bits = _SUFFIX_ALPHABET.index(code)
        for position, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            upper = bool(bits & (1 << position))
            if not char.isalpha():
                if upper:
                    return None
                chars.append(char)
            else:
                chars.append(char.upper() if upper else char.lower())
    return "".join(chars)


def to_18(value: str) -> str:
    """Return the 18-character form of a Salesforce id given in either form (R4d).

    A 15-character id gets its checksum. An 18-character id whose checksum agrees with its case
    is kept (its suffix upper-cased); one whose whole case was changed by some tool gets its case
    back from the suffix; one whose checksum disagrees otherwise is refused.
    """
    if not isinstance(value, str):
        raise InvalidSalesforceId(f"{_shown(value)} is not a Salesforce id (expected 15 or 18 letters and digits).")
    candidate = value.strip()
    if not _ID_PATTERN.match(candidate):
        raise InvalidSalesforceId(f"{_shown(value)} is not a Salesforce id (expected 15 or 18 letters and digits).")
    id15 = candidate[:15]
    if len(candidate) == 15:
        return id15 + checksum_suffix(id15)
    suffix = candidate[15:].upper()
    if checksum_suffix(id15) == suffix:
        return id15 + suffix
    letters = [char for char in id15 if char.isalpha()]
    case_lost = all(char.islower() for char in letters) or all(char.isupper() for char in letters)
    restored = _restored_case(id15, suffix) if case_lost else None
    if restored is None:
        raise InvalidSalesforceId(
            f"{candidate} is not a Salesforce id: its last 3 characters are not the checksum of the first 15 "
            f"(expected {checksum_suffix(id15)}); copy the id again from Salesforce.")
    return restored + suffix


def to_18_or_none(value: str | None) -> str | None:
    """`to_18` for optional values: None and blank strings give None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_18(value)


def object_for_id(value: str) -> str | None:
    """The sObject type a Lead/Contact/Account id belongs to, by its key prefix, or None."""
    return OBJECT_BY_PREFIX.get(value[:3])
