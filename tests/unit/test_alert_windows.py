"""When an expiry alert is due: the windows, catch-up after missed runs, the scan range."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.alerts.windows import Windows, describe, label, parse_days, urgency

EXPIRY = date(2026, 12, 31)
W = Windows()  # 90, 60, 30, 7, 0 days before; 1, 14, 28 after; 14 days of catch-up


def day(offset: int) -> date:
    return EXPIRY + timedelta(days=offset)


@pytest.mark.parametrize(
    ("as_of", "due"),
    [
        (day(-91), None),  # no window reached yet
        (day(-90), -90),
        (day(-61), -90),  # still the 90-day window until the 60-day one is reached
        (day(-60), -60),
        (day(-25), -30),  # a week without runs: the most urgent window reached, only
        (day(-7), -7),
        (day(0), 0),
        (day(1), 1),
        (day(20), 14),
        (day(28), 28),
        (day(42), 28),  # the last window, 14 days late: still sent
        (day(43), None),  # too long after the last window: nothing more
    ],
)
def test_the_most_urgent_window_reached_is_due(as_of, due):
    assert W.due(EXPIRY, as_of) == due


def test_the_scan_range_covers_exactly_the_expiries_with_a_window_due():
    as_of = date(2026, 6, 1)
    first, last = W.scan_range(as_of)
    assert W.due(first, as_of) == 28 and W.due(first - timedelta(days=1), as_of) is None
    assert W.due(last, as_of) == -90 and W.due(last + timedelta(days=1), as_of) is None


def test_custom_windows_and_their_names():
    w = Windows(before=(30, 0), after=(), catch_up_days=0)
    assert w.offsets == (-30, 0)
    assert w.due(EXPIRY, day(0)) == 0 and w.due(EXPIRY, day(1)) is None
    assert [label(o) for o in (-30, 0, 14)] == ["before-30", "on-expiry", "after-14"]
    assert describe(-7) == "7 days before expiry" and describe(0) == "on the day of expiry"
    assert [urgency(d) for d in (-1, 0, 7, 8, 30, 31)] == ["expired", "within 7 days", "within 7 days", "within 30 days", "within 30 days", "within 90 days"]


@pytest.mark.parametrize(("text", "expected"), [("90,60,30,7,0", (90, 60, 30, 7, 0)), (" 30 , 7 ", (30, 7)), ("", ())])
def test_windows_are_read_from_settings(text, expected):
    assert parse_days(text, "ALERT_WINDOWS_BEFORE") == expected


@pytest.mark.parametrize("text", ["90;60", "thirty", "-1", "99999"])
def test_bad_window_settings_name_the_variable(text):
    with pytest.raises(ValueError, match="ALERT_WINDOWS_BEFORE"):
        parse_days(text, "ALERT_WINDOWS_BEFORE")


def test_windows_must_exist_and_be_positive():
    with pytest.raises(ValueError):
        Windows(before=(), after=())
    with pytest.raises(ValueError):
        Windows(before=(-3,))
