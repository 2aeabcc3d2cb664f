"""Reading the registry's times: ISO 8601 with a UTC offset, and plain dates."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

# A site build reads each incident's times once per yearly report and page: ~2.5 million
# calls at 50,000 incidents for ~300,000 distinct strings. Bounded: a long process that reads
# ever new times keeps at most this many (~40 MB).
_REMEMBERED_TIMES = 1 << 18


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string with offset, else None (the schema says why)."""
    if not isinstance(value, str):
        return None
    return time_of(value)


@lru_cache(maxsize=_REMEMBERED_TIMES)
def time_of(value: str) -> datetime | None:
    """`parse_time` of a value known to be text (a call fewer: the record walk asks for
    every time of every record)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse_date(value: Any) -> date | None:
    """A date from 'YYYY-MM-DD', else None."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
