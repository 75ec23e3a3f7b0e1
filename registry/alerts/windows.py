"""When an expiry alert is due: pure date arithmetic, no Flask, no database.

A credential expiring on day E is announced at *windows*: offsets in days from E, by default
90, 60, 30, 7 and 0 days before it and 1, 14 and 28 days after it. A run on day D sends, for
each item, the **most urgent window already reached** (the largest offset with E + offset <= D)
and only that one, if it has not been sent: a run after a week's outage sends one message per
item, the one that matters now, not a flood of stale ones and not nothing. After the last
window the item is alerted no more once ``catch_up_days`` have passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Windows:
    before: tuple[int, ...] = (90, 60, 30, 7, 0)
    after: tuple[int, ...] = (1, 14, 28)
    #: how late the last window may still be sent
    catch_up_days: int = 14

    def __post_init__(self) -> None:
        if any(d < 0 for d in (*self.before, *self.after)) or self.catch_up_days < 0:
            raise ValueError("Alert windows are numbers of days, 0 or more.")
        if not self.before and not self.after:
            raise ValueError("At least one alert window is needed.")

    @property
    def offsets(self) -> tuple[int, ...]:
        """Every window as an offset from the expiry day, in order (-90 ... 0 ... 28)."""
        return tuple(sorted({-d for d in self.before} | set(self.after)))

    def due(self, expires_on: date, as_of: date) -> int | None:
        """The offset of the window due on ``as_of`` for an item expiring on ``expires_on``,
        or None (no window reached yet, or the last one is too long past)."""
        offsets = self.offsets
        reached = [o for o in offsets if expires_on + timedelta(days=o) <= as_of]
        if not reached:
            return None
        if reached[-1] == offsets[-1] and as_of > expires_on + timedelta(days=offsets[-1] + self.catch_up_days):
            return None
        return reached[-1]

    def scan_range(self, as_of: date) -> tuple[date, date]:
        """The expiry days that can have a window due on ``as_of``: what the scan asks the
        database for (through the ``expires_on`` indexes), so it never reads every row."""
        offsets = self.offsets
        return as_of - timedelta(days=offsets[-1] + self.catch_up_days), as_of - timedelta(days=offsets[0])


def label(offset: int) -> str:
    """A window's name in keys and on pages: before-30, on-expiry, after-14."""
    if offset < 0:
        return f"before-{-offset}"
    return "on-expiry" if offset == 0 else f"after-{offset}"


def describe(offset: int) -> str:
    if offset < 0:
        return f"{-offset} days before expiry"
    return "on the day of expiry" if offset == 0 else f"{offset} days after expiry"


#: urgency groups of the managers' digest, most urgent first
URGENCY = ("expired", "within 7 days", "within 30 days", "within 90 days")


def urgency(days_left: int) -> str:
    if days_left < 0:
        return "expired"
    if days_left <= 7:
        return "within 7 days"
    return "within 30 days" if days_left <= 30 else "within 90 days"


def parse_days(text: str, name: str) -> tuple[int, ...]:
    """``"90, 60,30"`` -> (90, 60, 30); a clear error naming the setting otherwise."""
    try:
        values = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ValueError(f"{name} must be whole numbers of days separated by commas, e.g. 90,60,30 (got {text!r}).") from None
    if any(v < 0 or v > 3650 for v in values):
        raise ValueError(f"{name}: each window must be 0 to 3650 days (got {text!r}).")
    return values
