"""The one clock: services and models are handed `now`, never read the time themselves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def system_clock() -> datetime:
    """The real time, aware, in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the Asia/Shanghai offset, as the API shows every time."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetime reached the API; times are aware UTC inside the app")
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")
