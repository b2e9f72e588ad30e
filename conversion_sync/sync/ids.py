"""Salesforce record ids (R4d): 15-character case-sensitive ids and their 18-character form.

Salesforce appends a 3-character checksum to the case-sensitive 15-character id so that the
18-character form is unique even when compared case-insensitively. Conversion always stores and
compares the 18-character form.
"""

from __future__ import annotations

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
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def to_18(value: str) -> str:
    """Return the 18-character form of a Salesforce id given in either form (R4d).

    An 18-character id keeps its case-sensitive first 15 characters and gets its checksum
    recomputed, so an id whose suffix was lower-cased by some tool still compares equal.
    """
    if not isinstance(value, str):
        raise InvalidSalesforceId(f"{value!r} is not a Salesforce id (expected 15 or 18 letters and digits).")
    candidate = value.strip()
    if not _ID_PATTERN.match(candidate):
        raise InvalidSalesforceId(f"{value!r} is not a Salesforce id (expected 15 or 18 letters and digits).")
    id15 = candidate[:15]
    return id15 + checksum_suffix(id15)


def to_18_or_none(value: str | None) -> str | None:
    """`to_18` for optional values: None and blank strings give None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_18(value)



def object_for_id(value: str) -> str | None:
    """The sObject type a Lead/Contact/Account id belongs to, by its key prefix, or None."""
    return OBJECT_BY_PREFIX.get(value[:3])
