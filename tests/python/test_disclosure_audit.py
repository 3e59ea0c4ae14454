"""The disclosure audit (cc_warehouse.disclosure_audit) finds what an attacker can work out.

Each test publishes a small table the way pub_indicator_values does (rounded counts, NULL
where hidden) beside its true counts, and checks what the audit says of the hidden counts.
The leaks are the ones found in the published demo city (issue 23); the audit must find
each, and must pass a pattern that protects.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from cc_warehouse.build import disclosure_audit

FY = {
    "period_type": "financial_year",
    "period_label": "2023/24",
    "period_start": "2023-04-01",
    "period_end": "2024-03-31",
}
GROUPS = {
    "all": "all",
    "mother_under_20": "mother_age",
    "mother_20_plus": "mother_age",
    "age_unknown": "mother_age",
    "white": "ethnic_group",
    "bme": "ethnic_group",
    "ethnicity_not_known": "ethnic_group",
    "imd_q4": "imd_quintile",
    "imd_q5": "imd_quintile",
}


def _round(count: int) -> int | None:
    if 1 <= count <= disclosure_audit.LARGEST_HIDDEN:
        return None
    return int(round(count / 5) * 5)


def cell(area: str, breakdown: str, numerator: int, denominator: int, hide=(), period=FY, **extra) -> dict:
    """One row: true counts, and what is published (rounded; hidden where small or in `hide`)."""
    shown_n = None if "numerator" in hide or denominator <= 7 else _round(numerator)
    shown_d = None if "denominator" in hide else _round(denominator)
    return {
        "indicator_id": extra.get("indicator_id", "smoking_at_delivery"),
        "area_type": "la" if area == "E06" else "centre",
        "area_code": area,
        "la_code": "E06",
        **period,
        "breakdown": breakdown,
        "breakdown_group": GROUPS[breakdown],
        "numerator": shown_n,
        "denominator": shown_d,
        "true_numerator": numerator,
        "true_denominator": denominator,
    }


def publish_rows(rows: list[dict], con: duckdb.DuckDBPyConnection) -> None:
    """pub_indicator_values (what is shown) and fct_indicator_values (the truth) in `con`."""
    frame = pd.DataFrame(rows)
    published = frame.drop(columns=["true_numerator", "true_denominator"])
    exact = frame.drop(columns=["numerator", "denominator"]).rename(
        columns={"true_numerator": "numerator", "true_denominator": "denominator"}
    )
    con.register("published_rows", published)
    con.register("exact_rows", exact)
    con.execute(
        """create table pub_indicator_values as select * replace (
               cast(period_start as date) as period_start, cast(period_end as date) as period_end,
               cast(numerator as bigint) as numerator, cast(denominator as bigint) as denominator)
           from published_rows"""
    )
    con.execute("create table fct_indicator_values as select * from exact_rows")


def audit(rows: list[dict]) -> disclosure_audit.AuditResult:
    con = duckdb.connect()
    publish_rows(rows, con)
    return disclosure_audit.audit(con)


def unprotected(result: disclosure_audit.AuditResult) -> set[tuple[str, str, str]]:
    return {(r.area_code, r.breakdown, r.kind) for r in result.unprotected.itertuples()}


def interval(result: disclosure_audit.AuditResult, area: str, kind: str) -> tuple[float, float]:
    """The interval the attacker is left with for an unprotected count of `area`'s 'all' row."""
    assert (area, "all", kind) in unprotected(result)
    found = result.unprotected.set_index(["area_code", "kind"]).loc[(area, kind)]
    return found["lower"], found["upper"]


def test_a_hidden_centre_beside_a_shown_city_and_shown_centres_is_found():
    rows = [
        cell("E06", "all", 41, 101),
        cell("CC01", "all", 20, 50),
        cell("CC02", "all", 20, 50),
        cell("CC03", "all", 1, 1),
    ]
    # 101 rounds to 100, each 50 is 48 to 52: the hidden centre is 1 to 6, never 8
    assert interval(audit(rows), "CC03", "denominator") == (1, 6)


def test_a_hidden_total_whose_only_category_is_shown_gives_away_its_partner():
    # issue 23: a centre's 'all' numerator hidden (as the partner of a small one) while its
    # only category shows 10: the total is the category, so the small partner is the city
    # minus the centres
    rows = [
        cell("E06", "all", 41, 300),
        cell("CC01", "all", 10, 100, hide=("numerator",)),
        cell("CC01", "mother_20_plus", 10, 100),
        cell("CC02", "all", 1, 100),
        cell("CC03", "all", 30, 100),
    ]
    # 41 shows as 40 (38 to 42), the hidden total as its category (8 to 12), 30 as 28 to 32
    assert interval(audit(rows), "CC02", "numerator") == (0, 6)


def test_seven_small_centres_under_a_small_city_total_are_each_pinned():
    # issue 23: seven centres and the city all hidden for one breakdown; the city's count is
    # the shown 'all' minus the other shown categories, so seven counts of at least 1 add up
    # to at most a handful
    rows = [cell("E06", "all", 500, 1000), cell("E06", "mother_20_plus", 493, 993)]
    rows.append(cell("E06", "mother_under_20", 7, 7))
    for number in range(1, 8):
        rows.append(cell(f"CC0{number}", "mother_under_20", 1, 1))
    result = audit(rows)
    pinned = result.unprotected[result.unprotected["area_type"] == "centre"]
    assert len(pinned) >= 7
    assert (pinned["upper"] < disclosure_audit.PROTECTED_UP).all()


def test_a_financial_year_is_pinned_by_its_rolling_year_where_that_shows_the_partner():
    rolling = {
        "period_type": "rolling_12m",
        "period_label": "12 months to 2023/24 Q4",
        "period_start": "2023-04-01",
        "period_end": "2024-03-31",
    }
    counts = [("E06", 41, 101), ("CC01", 20, 50), ("CC02", 1, 1), ("CC03", 20, 50)]
    # the financial year hides the small centre and its partner, and alone protects it
    financial_year = [
        cell(area, "all", n, d, hide=("numerator", "denominator") if area == "CC03" else ())
        for area, n, d in counts
    ]
    assert audit(financial_year).passed
    # the rolling year ending at its Q4 is the same count, and shows the partner
    both = financial_year + [cell(area, "all", n, d, period=rolling) for area, n, d in counts]
    result = audit(both)
    fy = result.unprotected[result.unprotected["period_type"] == "financial_year"]
    assert ("CC02", "denominator") in set(zip(fy["area_code"], fy["kind"], strict=True))


def test_a_protected_pattern_passes():
    # a small count hidden with a large partner in each group it belongs to: the attacker can
    # move up to the partner's size between them, so the interval spans far past 8
    rows = [
        cell("E06", "all", 60, 200),
        cell("E06", "mother_under_20", 9, 30, hide=("numerator", "denominator")),
        cell("E06", "mother_20_plus", 51, 170, hide=("numerator", "denominator")),
        cell("CC01", "all", 30, 100),
        cell("CC01", "mother_under_20", 3, 12, hide=("numerator", "denominator")),
        cell("CC01", "mother_20_plus", 27, 88, hide=("numerator", "denominator")),
        cell("CC02", "all", 30, 100),
        cell("CC02", "mother_under_20", 6, 18, hide=("numerator", "denominator")),
        cell("CC02", "mother_20_plus", 24, 82, hide=("numerator", "denominator")),
    ]
    result = audit(rows)
    assert result.small_hidden == 2  # the numerators 3 and 6
    assert result.passed, disclosure_audit.report(result)


def test_published_figures_that_fit_no_table_are_an_error():
    rows = [cell("E06", "all", 40, 100), cell("CC01", "all", 40, 100), cell("CC02", "all", 30, 60)]
    with pytest.raises(disclosure_audit.AuditError):
        audit(rows)


def test_a_count_pinned_through_both_dimensions_at_once_is_protected_by_hiding_more():
    # As in the seed-11 test city (issue 23): each group has two or more hidden counts adding
    # up to 15 or more, yet CC03's age-unknown numerator (1) can only rise as far as CC01's
    # hidden small counts can fall, through CC03's and CC01's hidden 20-and-over counts (the
    # shown totals, rounded, leave a count or two of slack): 0 to 5. The rule for one group
    # at a time cannot see it; the audit can, and says what to hide.
    counts = {  # area: (under 20, 20 and over, age unknown) numerators, then denominators
        "CC01": ((3, 104, 0), (8, 168, 1)),
        "CC02": ((23, 52, 2), (42, 97, 2)),
        "CC03": ((103, 63, 1), (166, 103, 1)),
        "E06": ((129, 219, 3), (216, 368, 4)),
    }
    hidden = {  # the secondary suppressions of the model's rules
        ("CC01", "mother_20_plus"): ("numerator", "denominator"),
        ("CC02", "mother_under_20"): ("numerator", "denominator"),
        ("CC02", "mother_20_plus"): ("denominator",),
        ("CC03", "mother_20_plus"): ("numerator", "denominator"),
        ("E06", "mother_under_20"): ("numerator", "denominator"),
    }
    rows = []
    for area, (numerators, denominators) in counts.items():
        rows.append(cell(area, "all", sum(numerators), sum(denominators)))
        for breakdown, n, d in zip(
            ("mother_under_20", "mother_20_plus", "age_unknown"), numerators, denominators, strict=True
        ):
            rows.append(cell(area, breakdown, n, d, hide=hidden.get((area, breakdown), ())))
    result = audit(rows)
    assert {("CC03", "age_unknown", "numerator"), ("CC01", "mother_under_20", "numerator")} <= unprotected(
        result
    )
    for _ in range(5):
        if result.passed:
            break
        assert not result.to_hide.empty
        for chosen in result.to_hide.itertuples():
            [row] = [
                r for r in rows if (r["area_code"], r["breakdown"]) == (chosen.area_code, chosen.breakdown)
            ]
            assert row[chosen.count_kind] is not None, "only a shown count is chosen"
            row[chosen.count_kind] = None
        result = audit(rows)
    assert result.passed, disclosure_audit.report(result)
    still_shown = sum(r[kind] is not None for r in rows for kind in disclosure_audit.KINDS)
    assert still_shown >= 12, "hiding a few counts protects it, not hiding everything"


def test_a_count_pinned_three_relations_away_is_protected_by_hiding_a_count_that_far():
    # As in the England bench (CC0596, 12 months to 2023/24 Q2; the audit could not say what
    # to hide and nothing was published): the under-20 mother's low-weight baby (1) can only
    # be 0 to 4. There is no term row for under-20 mothers, so that baby was born before
    # term; every low-weight baby is in IMD quintile 5 (quintile 4 shows 0 of both); and the
    # babies of quintile 5 born before term are 87 - 83 at most 4 (both quintile-5
    # denominators show 85). No shown count lies within two relations of the count.
    both, term_only = ("numerator", "denominator"), ("numerator",)
    counts = {  # indicator: breakdown: (numerator, denominator, hidden beyond the small ones)
        "low_birth_weight_all": {
            "all": (2, 96, both),
            "mother_under_20": (1, 1, ()),
            "mother_20_plus": (1, 94, both),
            "age_unknown": (0, 1, ()),
            "white": (1, 40, both),
            "bme": (1, 54, ()),
            "ethnicity_not_known": (0, 2, ()),
            "imd_q4": (0, 9, ()),
            "imd_q5": (2, 87, ()),
        },
        "low_birth_weight_term": {
            "all": (0, 92, both),
            "mother_20_plus": (0, 91, both),
            "age_unknown": (0, 1, ()),
            "white": (0, 38, both),
            "bme": (0, 52, term_only),
            "ethnicity_not_known": (0, 2, ()),
            "imd_q4": (0, 9, ()),
            "imd_q5": (0, 83, term_only),
        },
    }
    rows = [
        cell("CC0596", breakdown, n, d, hide=hide, indicator_id=indicator)
        for indicator, breakdowns in counts.items()
        for breakdown, (n, d, hide) in breakdowns.items()
    ]
    result = audit(rows)
    assert unprotected(result) == {("CC0596", "mother_under_20", "numerator")}
    assert tuple(result.unprotected[["lower", "upper"]].iloc[0]) == (0, 4)
    [chosen] = result.to_hide.itertuples()
    assert (chosen.breakdown, chosen.count_kind) == ("imd_q5", "denominator")
    [row] = [r for r in rows if (r["indicator_id"], r["breakdown"]) == (chosen.indicator_id, "imd_q5")]
    row["denominator"] = None
    assert audit(rows).passed


def test_a_programme_that_passed_is_audited_again_only_when_its_counts_change(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    other_year = {**FY, "period_label": "2022/23", "period_start": "2022-04-01", "period_end": "2023-03-31"}
    rows = [
        cell(area, "all", n, d, period=period)
        for period in (FY, other_year)
        for area, n, d in (("E06", 21, 101), ("CC01", 10, 50), ("CC02", 10, 50), ("CC03", 1, 1))
    ]
    for row in rows:  # the hidden centre under a shown city total: protected by hiding its city
        if row["area_code"] == "E06":
            row["denominator"] = row["numerator"] = None

    def protect() -> disclosure_audit.AuditResult:
        def rebuild() -> None:
            raise AssertionError("nothing to hide")

        with duckdb.connect(str(database)) as con:
            for table in ("pub_indicator_values", "fct_indicator_values"):
                con.execute(f"drop table if exists {table}")
            publish_rows(rows, con)
        return disclosure_audit.protect(database, database, rebuild, rounds=0)

    first = protect()
    assert first.passed and len(first.parts) == first.programmes == 2
    again = protect()
    assert again.parts == {} and again.programmes == 2, "nothing changed: nothing to audit"
    assert (again.hidden, again.small_hidden) == (first.hidden, first.small_hidden)
    assert "programmes audited: 0 of 2" in again.summary()
    [row] = [r for r in rows if r["area_code"] == "CC01" and r["period_label"] == "2022/23"]
    row["numerator"], row["true_numerator"] = 15, 15
    changed = protect()
    assert [key[1] for key in changed.parts] == [dt.date(2022, 4, 1)], "only the year that changed"
    [city] = [r for r in rows if r["area_code"] == "E06" and r["period_label"] == "2022/23"]
    city["denominator"] = 100  # the city total shown again: the hidden centre is pinned
    with pytest.raises(
        disclosure_audit.AuditError, match="CC03 2022/23 all denominator: could only be 1 to 6"
    ):
        protect()


def test_programmes_read_a_batch_at_a_time_are_audited_the_same(monkeypatch):
    years = [
        {**FY, "period_label": f"{year}/{year % 100 + 1}", "period_start": f"{year}-04-01",
         "period_end": f"{year + 1}-03-31"}
        for year in (2021, 2022, 2023)
    ]  # fmt: skip
    rows = [
        cell(area, "all", n, d, period=period)
        for period in years
        for area, n, d in (("E06", 41, 101), ("CC01", 20, 50), ("CC02", 20, 50), ("CC03", 1, 1))
    ]
    whole = audit(rows)
    monkeypatch.setattr(disclosure_audit, "BATCH", 2)
    batched = audit(rows)
    assert len(whole.parts) == len(batched.parts) == 3
    assert whole.parts == batched.parts and whole.failing_parts == batched.failing_parts
    assert ("CC03", "all", "denominator") in unprotected(batched)  # in each year
    assert len(batched.unprotected) == len(whole.unprotected) == 3 * len(unprotected(whole))


def test_where_no_single_count_protects_several_are_hidden_together_and_no_more():
    # CC03's one birth is pinned twice: by the shown city total over the shown centres, and
    # by the same sum of the 20-and-over births (CC03's only ones); each path alone pins it.
    counts = {"CC01": (10, 40), "CC02": (10, 40), "CC03": (0, 1), "E06": (20, 81)}  # under 20, 20+
    rows = []
    for area, (under, over) in counts.items():
        rows.append(cell(area, "all", 0, under + over))
        if under:
            rows.append(cell(area, "mother_under_20", 0, under))
        rows.append(cell(area, "mother_20_plus", 0, over))
    result = audit(rows)
    assert ("CC03", "all", "denominator") in unprotected(result)
    chosen = result.to_hide[result.to_hide["protects"].str.startswith("smoking_at_delivery CC03 all ")]
    hidden = list(zip(chosen["area_code"], chosen["breakdown"], chosen["count_kind"], strict=True))
    assert len(hidden) == 2, hidden

    def hide(counts: list[tuple]) -> list[dict]:
        changed = [dict(row) for row in rows]
        for row in changed:
            for area, breakdown, kind in counts:
                if (row["area_code"], row["breakdown"]) == (area, breakdown):
                    row[kind] = None
        return changed

    assert ("CC03", "all", "denominator") not in unprotected(audit(hide(hidden)))
    for one in hidden:  # neither alone
        assert ("CC03", "all", "denominator") in unprotected(audit(hide([one])))
