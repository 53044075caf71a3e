"""Time: everything is stored as timezone-aware UTC and shown in the reader's zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

#: The years a date typed in a form or an address may fall in. Python's dates end at 9999:
#: a last day of 9999 seen from west of UTC, a first day of year 1 from east of it, or a week
#: or a month past it, cannot be computed; a neighbourhood needs nothing that far.
MIN_YEAR, MAX_YEAR = 1900, 2200
DATE_RANGE_MESSAGE = _l("Choisissez une date entre %(a)s et %(b)s.", a=MIN_YEAR, b=MAX_YEAR)


def is_supported(day: date | None) -> bool:
    """True for a date (or datetime) within MIN_YEAR..MAX_YEAR."""
    return day is not None and MIN_YEAR <= day.year <= MAX_YEAR


#: Where `utcnow` reads the time: None for the system clock, or a callable set by `set_clock` (tests).
_clock: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime: the one place the code asks for "now"."""
    return datetime.now(UTC) if _clock is None else _clock()


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Make `utcnow` read clock (an aware datetime each call) instead of the system; None goes back."""
    global _clock
    _clock = clock


def in_zone(value: datetime, zone: tzinfo) -> datetime:
    """The aware datetime in another zone; in UTC when that zone would take it past year 1 or 9999."""
    try:
        return value.astimezone(zone)
    except OverflowError:
        return value.astimezone(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp column that refuses naive datetimes and always gives back aware UTC ones.

    SQLite keeps no zone, so values are normalised to UTC before storage and tagged UTC on load;
    PostgreSQL stores them as `timestamp with time zone`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: give a timezone-aware value")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
