"""Reading the registry's times: ISO 8601 with a UTC offset, and plain dates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string with offset, else None (the schema says why)."""
    if not isinstance(value, str):
        return None
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
