"""The charter's calendar as instants (UTC milliseconds).

Cycle Y is named by the year of its lift date. With the default calendar
(lift 01-01, submission deadline 06-30, decision 12-31):

- the lift takes effect at the start of Y-01-01;
- the submission window closes at the end of Y-06-30 (start of Y-07-01);
- the decision date is the whole day Y-12-31.

The calendar's time zone is UTC in v1 (the charter's schema allows only UTC).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from verifier.entries.fields import parse_monthday
from verifier.entries.payloads import Calendar as CalendarPayload
from verifier.entries.payloads import Charter

DAY_MS = 86_400_000


def day_start_ms(d: dt.date) -> int:
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()) * 1000


def date_of(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms // 1000, tz=dt.UTC).date()


def fmt_date(ms: int) -> str:
    return date_of(ms).isoformat()


def fmt_time(ms: int) -> str:
    """An instant as RFC 3339 UTC to the second: 2027-01-05T09:00:00Z (four-digit year)."""
    t = dt.datetime.fromtimestamp(ms // 1000, tz=dt.UTC).replace(tzinfo=None)
    return t.isoformat(timespec="seconds") + "Z"


@dataclass(frozen=True)
class Calendar:
    lift: tuple[int, int]
    deadline: tuple[int, int]
    decision: tuple[int, int]

    @classmethod
    def of(cls, charter: Charter) -> Calendar:
        return cls.of_payload(charter.calendar)

    @classmethod
    def of_payload(cls, c: CalendarPayload) -> Calendar:
        return cls(
            parse_monthday(c.lift, "lift"),
            parse_monthday(c.submission_deadline, "submission_deadline"),
            parse_monthday(c.decision, "decision"),
        )

    def lift_ms(self, cycle: int) -> int:
        return day_start_ms(in_year(cycle, self.lift))

    def window_closes_ms(self, cycle: int) -> int:
        """Exclusive end of the submission window: the start of the day after the deadline."""
        return day_start_ms(in_year(cycle, self.deadline)) + DAY_MS

    def decision_day(self, cycle: int) -> tuple[int, int]:
        """[start, end) of the decision date of *cycle*."""
        start = day_start_ms(in_year(cycle, self.decision))
        return start, start + DAY_MS

    def is_lift_date(self, d: dt.date) -> bool:
        return d == in_year(d.year, self.lift)


def in_year(year: int, month_day: tuple[int, int]) -> dt.date:
    """A calendar's month-day in *year*; 02-29 is the last day of February in a year
    without one (as the reference auditor reads it, C1), not an error."""
    month, day = month_day
    if (month, day) == (2, 29) and not calendar.isleap(year):
        day = 28
    return dt.date(year, month, day)


@dataclass(frozen=True)
class CycleCalendar:
    """The calendar of each cycle: the charter's, or an amendment's from its cycle on
    (docs/policy-notes.md, "Charter amendments"). Answers as :class:`Calendar` does."""

    base: Calendar
    #: (from cycle, calendar) of each amendment, in log order: the last that covers a
    #: cycle gives its calendar.
    amended: tuple[tuple[int, Calendar], ...] = ()

    def of(self, cycle: int) -> Calendar:
        found = self.base
        for from_cycle, cal in self.amended:
            if cycle >= from_cycle:
                found = cal
        return found

    def lift_ms(self, cycle: int) -> int:
        return self.of(cycle).lift_ms(cycle)

    def window_closes_ms(self, cycle: int) -> int:
        return self.of(cycle).window_closes_ms(cycle)

    def decision_day(self, cycle: int) -> tuple[int, int]:
        return self.of(cycle).decision_day(cycle)

    def is_lift_date(self, d: dt.date) -> bool:
        return self.of(d.year).is_lift_date(d)
