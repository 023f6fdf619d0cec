"""Instants and accounting periods: ISO 8601 text as UTC, and when an ERP
closes a month (the period calendar NetSuite brings)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

LOCK_AFTER_DAYS = 10  # a month is closed this many days after it ends


def parse_instant(text: str) -> datetime:
    """ISO 8601 text (offset or none = UTC) as a naive UTC datetime."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def month_start(period: str) -> date:
    return date(int(period[:4]), int(period[5:]), 1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def closed_on(period: str) -> date:
    """When the ERP closes a period: LOCK_AFTER_DAYS after it ends."""
    return next_month(month_start(period)) + timedelta(days=LOCK_AFTER_DAYS)


def is_locked(period: str, as_of: datetime) -> bool:
    return closed_on(period) <= as_of.date()
