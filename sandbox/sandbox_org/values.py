"""Value formats: how the sandbox stores, parses and prints Salesforce field values.

Storage types, chosen for speed and memory with a million rows:
datetime -> int milliseconds since the epoch (UTC); date -> 'YYYY-MM-DD' str; boolean -> bool;
int -> int; double/currency/percent -> float; everything else -> str; null -> None.
"""

from __future__ import annotations

import calendar
import logging
import re
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

logger = logging.getLogger(__name__)

DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$"
)
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")

_second_cache: dict[int, str] = {}


def ms_from_parts(year: int, month: int, day: int, hour: int, minute: int, second: int,
                  fraction: str | None, tz: str | None) -> int:
    """Epoch milliseconds of a broken-down timestamp with an optional `Z`/`+hh:mm` offset."""
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
            and hour < 24 and minute < 60 and second < 60):
        raise ValueError("date/time out of range")
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    return seconds * 1000 + millis


def parse_datetime_text(text: str, require_tz: bool = False) -> int:
    """Parse `2024-05-01T12:30:15[.123](Z|+00:00|+0000)` into epoch milliseconds."""
    match = DATETIME_RE.match(text.strip())
    if not match or (require_tz and not match.group(8)):
        raise ValueError(f"not a dateTime: {text!r}")
    y, mo, d, h, mi, s, frac, tz = match.groups()
    return ms_from_parts(int(y), int(mo), int(d), int(h), int(mi), int(s), frac, tz)


def parse_date_text(text: str) -> str:
    """Validate `YYYY-MM-DD` and return it."""
    match = DATE_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a date: {text!r}")
    date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return match.group(0)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def datetime_to_ms(value: datetime) -> int:
    """Epoch milliseconds of a datetime (truncated); a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _ONE_MS


def ms_to_datetime(ms: int) -> datetime:
    """A tz-aware UTC datetime from epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC).replace(
        microsecond=(ms % 1000) * 1000)


def _second_text(seconds: int) -> str:
    text = _second_cache.get(seconds)
    if text is None:
        if len(_second_cache) > 200_000:
            _second_cache.clear()
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_cache[seconds] = text
    return text


def format_rest_datetime(ms: int) -> str:
    """REST JSON form: `2013-05-07T22:07:19.000+0000`."""
    return f"{_second_text(ms // 1000)}.{ms % 1000:03d}+0000"


def format_bulk_datetime(ms: int) -> str:
    """Bulk API 2.0 CSV form: `2024-05-01T12:30:15.000Z`."""
    return f"{_second_text(ms // 1000)}.{ms % 1000:03d}Z"


def to_python(value: Any, ftype: str) -> Any:
    """Stored value -> the Python value the org API returns (datetime, date, ...)."""
    if value is None:
        return None
    if ftype == "datetime":
        return ms_to_datetime(value)
    if ftype == "date":
        return date.fromisoformat(value)
    return value


def to_json(value: Any, ftype: str) -> Any:
    """Stored value -> REST JSON value."""
    if value is None:
        return None
    if ftype == "datetime":
        return format_rest_datetime(value)
    return value


def to_csv(value: Any, ftype: str) -> str | None:
    """Stored value -> Bulk CSV text (None for null)."""
    if value is None:
        return None
    if ftype == "datetime":
        return format_bulk_datetime(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def now_ms() -> int:
    """Real wall-clock epoch milliseconds."""
    return time.time_ns() // 1_000_000
