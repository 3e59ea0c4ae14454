"""What a newsletter is made from: the edition (the quarter and the periods its figures
come from) and the figures read from the published marts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from cc_warehouse.reports import boundaries
from cc_warehouse.reports.newsletter.errors import NewsletterError, NotEnoughData
from cc_warehouse.reports.newsletter.words import period_slug, quarter_words

CHART_POINTS = 8  # rolling 12-month values drawn: two years of quarters
NCMP_POINTS = 5  # academic years drawn


# ---------------------------------------------------------------- periods


@dataclass(frozen=True)
class Edition:
    """The quarter a newsletter is for, and the periods its figures come from."""

    quarter: str
    quarter_start: dt.date
    quarter_end: dt.date
    rolling: str
    rolling_start: dt.date
    rolling_end: dt.date
    rolling_series: list[str]
    rolling_ticks: list[str]
    academic_year: str | None
    academic_series: list[str]
    # the last financial year ended by the quarter: the newsletter's trend for births and visits
    financial_year: str | None = None

    @property
    def slug(self) -> str:
        return period_slug(self.quarter)

    @property
    def quarter_text(self) -> str:
        return quarter_words(self.quarter_start, self.quarter_end)

    @property
    def rolling_text(self) -> str:
        return quarter_words(self.rolling_start, self.rolling_end)


def choose_edition(periods: pd.DataFrame, requested: str | None) -> Edition:
    quarters = periods[periods["period_type"] == "quarter"].sort_values("period_start")
    complete = quarters[quarters["is_complete"]]
    if requested:
        chosen = complete[complete["period_label"] == requested.strip()]
        if chosen.empty:
            available = ", ".join(complete["period_label"].tolist()[-8:])
            raise NewsletterError(
                f"no complete quarter {requested!r} in the published marts (latest: {available})"
            )
    else:
        if complete.empty:
            raise NotEnoughData("the published marts hold no complete quarter yet")
        chosen = complete.tail(1)
    quarter = chosen.iloc[0]
    rolling_all = periods[periods["period_type"] == "rolling_12m"].sort_values("period_start")
    rolling_label = f"12 months to {quarter['period_label']}"
    position = rolling_all.index[rolling_all["period_label"] == rolling_label]
    if len(position) == 0:
        raise NotEnoughData(f"no rolling 12 months end in {quarter['period_label']}: choose a later quarter")
    upto = rolling_all.loc[: position[0]].tail(CHART_POINTS)
    rolling = upto.iloc[-1]
    years = periods[
        (periods["period_type"] == "academic_year")
        & periods["is_complete"]
        & (periods["period_end"] <= quarter["period_end"])
    ].sort_values("period_start")
    academic = years.iloc[-1]["period_label"] if not years.empty else None
    financial = _last_ended(periods, "financial_year", quarter["period_end"])
    return Edition(
        quarter=quarter["period_label"],
        quarter_start=_date(quarter["period_start"]),
        quarter_end=_date(quarter["period_end"]),
        rolling=rolling_label,
        rolling_start=_date(rolling["period_start"]),
        rolling_end=_date(rolling["period_end"]),
        rolling_series=upto["period_label"].tolist(),
        rolling_ticks=[f"{_date(end):%b}\n{_date(end):%Y}" for end in upto["period_end"]],
        academic_year=academic,
        academic_series=years["period_label"].tolist()[-NCMP_POINTS:],
        financial_year=financial,
    )


def _last_ended(periods: pd.DataFrame, period_type: str, by) -> str | None:
    """The label of the last complete period of this type that ended by `by`, or None."""
    ended = periods[
        (periods["period_type"] == period_type) & periods["is_complete"] & (periods["period_end"] <= by)
    ].sort_values("period_start")
    return ended.iloc[-1]["period_label"] if not ended.empty else None


def _date(value) -> dt.date:
    return value.date() if hasattr(value, "date") else value


# ---------------------------------------------------------------- reading the published marts


@dataclass
class Marts:
    values: pd.DataFrame
    indicators: pd.DataFrame
    areas: pd.DataFrame
    periods: pd.DataFrame
    completeness: pd.DataFrame
    cities: dict[str, boundaries.CityShapes]
    lookup: dict[tuple[str, str, str, str], dict] = field(default_factory=dict)
    # figures restated by the latest data change (pub_indicator_revisions), by the same key
    revisions: dict[tuple[str, str, str, str], dict] = field(default_factory=dict)

    def row(
        self, indicator_id: str, area_code: str, period_label: str, breakdown: str = "all"
    ) -> dict | None:
        return self.lookup.get((indicator_id, area_code, period_label, breakdown))

    def revision(self, row: dict | None) -> dict | None:
        """The revision of a shown figure, or None when it was not revised or is not shown."""
        if row is None or row["is_suppressed"]:
            return None
        key = (row["indicator_id"], row["area_code"], row["period_label"], row["breakdown"])
        return self.revisions.get(key)


def gather(published_db: Path, maps: bool = True) -> Marts:
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        values = con.execute(
            """select * from pub_indicator_values
            where period_type in ('rolling_12m', 'academic_year')"""
        ).df()
        indicators = con.execute("select * from dim_indicator order by display_order").df()
        areas = con.execute("select * from dim_area").df()
        periods = con.execute("select * from dim_period").df()
        completeness = con.execute(
            """select c.feed, c.item_id, c.area_code, c.period_label, c.completeness_pct,
                c.target_pct, c.status, i.description, i.display_order
            from fct_return_completeness c join dim_data_quality_item i using (item_id)
            where c.area_type = 'centre'"""
        ).df()
        revisions = con.execute(
            """select indicator_id, area_code, period_label, breakdown, previous_value_pct
            from pub_indicator_revisions
            where period_type in ('rolling_12m', 'academic_year')"""
        ).df()
        cities = boundaries.load(con) if maps else {}
    finally:
        con.close()
    values = values.astype(object).where(values.notna(), None)
    marts = Marts(values, indicators, areas, periods, completeness, cities)
    marts.lookup = _by_figure(values)
    marts.revisions = _by_figure(revisions.astype(object).where(revisions.notna(), None))
    return marts


def _by_figure(frame: pd.DataFrame) -> dict[tuple, dict]:
    """Rows keyed by the figure they describe (indicator, area, period, breakdown)."""
    keys = ["indicator_id", "area_code", "period_label", "breakdown"]
    return {tuple(row[k] for k in keys): row for row in frame.to_dict("records")}
