"""The demo's calendar: financial quarters and the day each extract is taken.

Maternity and health visiting send one extract per financial quarter, a few weeks after it
ends; NCMP sends one per school year, in the autumn after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cc_warehouse.demo.common import Ints, Scale, _day, _rng, _weekday_on_or_after


@dataclass(frozen=True)
class Calendar:
    first_year: int
    years: int
    quarter_start: Ints
    quarter_end: Ints
    extract_day: Ints  # one per quarter
    ncmp_extract_day: Ints  # one per academic year

    @property
    def start(self) -> int:
        return int(self.quarter_start[0])

    @property
    def end(self) -> int:
        return int(self.quarter_end[-1])

    @property
    def quarters(self) -> int:
        return self.quarter_start.size

    def quarter_of(self, days: Ints) -> Ints:
        """Index of the financial quarter holding each day; -1 outside the window."""
        quarter = np.searchsorted(self.quarter_start, days, side="right") - 1
        return np.where((days >= self.start) & (days <= self.end), quarter, -1)

    def financial_year_of(self, days: Ints) -> Ints:
        """Financial year index (0 = first), clipped to the window's years."""
        months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        first_month = (self.first_year - 1970) * 12 + 3
        return np.clip((months - first_month) // 12, 0, self.years - 1)


def build_calendar(scale: Scale, seed: int) -> Calendar:
    rng = _rng(seed, "calendar")
    first = np.datetime64(f"{scale.first_year}-04", "M")
    months = first + 3 * np.arange(4 * scale.years)
    start = months.astype("datetime64[D]").astype(np.int64)
    end = (months + 3).astype("datetime64[D]").astype(np.int64) - 1
    extract = _weekday_on_or_after(end + 21 + rng.integers(0, 22, end.size))
    year_end = np.array([_day(scale.first_year + i + 1, 8, 31) for i in range(scale.years)])
    ncmp_extract = _weekday_on_or_after(year_end + 30 + rng.integers(0, 31, scale.years))
    return Calendar(scale.first_year, scale.years, start, end, extract, ncmp_extract)
