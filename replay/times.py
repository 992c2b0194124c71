"""Every parse and format of a timestamp in storywire: ISO 8601 / RFC 3339 text, epoch seconds, UTC days.

Text is read by `datetime.fromisoformat`, which on Python 3.11 reads ISO 8601
with `Z` or an offset, fractions and date-only values. A time without an offset
is UTC, never the machine's local zone; a contract that needs the offset (the
input schema, the service's query parameters) asks for it with
`require_offset=True`. Written times are RFC 3339 in UTC with `Z`.
Here, in `replay`, so that `flows`, `service`, `export` and `spark` (which
import `replay`) and `replay` itself share it.
"""

from __future__ import annotations

from datetime import datetime, timezone


class NoOffset(ValueError):
    """A time without a UTC offset where the contract needs one."""


class OutOfRange(ValueError):
    """A time that the calendar cannot hold once moved to UTC (past year 9999 or before year 1)."""


def parse(text: str, *, require_offset: bool = False) -> datetime:
    """An aware UTC datetime; naive text is UTC (or NoOffset with `require_offset`); ValueError if not ISO 8601."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        if require_offset:
            raise NoOffset(f"{text!r} has no UTC offset")
        return parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise OutOfRange(f"{text!r} is out of range in UTC") from None


def epoch_seconds(text: str, *, require_offset: bool = False) -> float:
    """Epoch seconds of an ISO 8601 time (naive: UTC)."""
    try:
        return parse(text, require_offset=require_offset).timestamp()
    except OverflowError:
        raise OutOfRange(f"{text!r} is out of range") from None


def utc_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def rfc3339(seconds: float, timespec: str = "milliseconds") -> str:
    """Epoch seconds as RFC 3339 UTC with `Z` (milliseconds unless `timespec` says otherwise)."""
    return utc_datetime(seconds).isoformat(timespec=timespec).replace("+00:00", "Z")


def utc_day(seconds: float) -> str:
    """YYYY-MM-DD of epoch seconds in UTC."""
    return utc_datetime(seconds).strftime("%Y-%m-%d")
