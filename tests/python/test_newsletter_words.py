"""The newsletter's words, periods and public CSV, without a pipeline (fast)."""

from __future__ import annotations

import csv
import datetime as dt
import re

import duckdb
import pandas as pd
import pytest

from cc_warehouse.reports import newsletter as nl


@pytest.mark.parametrize(
    ("pct", "words"),
    [
        (0, "None of the"),
        (0.4, "Fewer than 1 in every 100"),
        (4, "About 4 in every 100"),
        (19, "About 19 in every 100"),
        (20, "About 2 in every 10"),
        (65, "About 7 in every 10"),
        (80, "About 8 in every 10"),
        (93, "About 93 in every 100"),
        (100, "Almost all"),
    ],
)
def test_share_words(pct, words):
    assert nl.share_words(pct) == words


def test_the_brief_example_reads_as_asked():
    sentence = nl.headline_sentence(70, "mums", "started breastfeeding")
    assert sentence == "About 7 in every 10 mums here started breastfeeding."


def test_every_comparison_sentence_carries_its_phrase_and_no_other():
    for value, sentence in nl.COMPARISON_SENTENCES.items():
        text = sentence.format(place="the city")
        assert nl.VS_PHRASES[value].format(place="the city") in text
        others = [p.format(place="the city") for v, p in nl.VS_PHRASES.items() if v != value]
        assert not any(other in text for other in others), value
    assert nl.comparison_sentence("not compared", "England") is None
    for value, sentence in nl.CHANGE_SENTENCES.items():
        assert nl.CHANGE_PHRASES[value].format(then="a year ago") in sentence.format(then="a year ago")
    assert nl.change_sentence("not compared", "a year ago") is None


def test_similar_never_claims_a_difference():
    text = nl.comparison_sentence("similar", "England")
    assert "chance would explain" not in text and "down to chance" in text


def test_target_sentence():
    assert nl.target_sentence(75.0, True, "high_is_good") == (
        "The city's goal is at least 75%. This area has reached it."
    )
    assert nl.target_sentence(8.0, False, "low_is_good") == (
        "The city's goal is 8% or less. This area has not reached it yet."
    )
    assert nl.target_sentence(None, None, "low_is_good") is None
    assert nl.target_sentence(50.0, None, "no_judgement") is None


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+44", "'+44"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Acorn Park", "Acorn Park"),
        ("12 months to 2024/25 Q3", "12 months to 2024/25 Q3"),
    ],
)
def test_spreadsheet_safe(text, safe):
    assert nl.spreadsheet_safe(text) == safe


def test_each_centre_code_gets_its_own_file_name():
    # issue 24: CC.04 and CC/04 both became CC_04.html, one newsletter written over the other
    codes = ["CC04", "CC.04", "CC/04", "CC_04", "CC 04", "E06000023"]
    stems = [nl.file_stem(code) for code in codes]
    assert len(set(stems)) == len(codes)
    assert stems[0] == "CC04" and stems[3] == "CC_04" and stems[5] == "E06000023"  # kept as they are
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", stem) for stem in stems)


def test_period_slug():
    assert nl.period_slug("2024/25 Q3") == "2024-25-Q3"
    assert nl.file_stem("CC/01 x").startswith("CC_01_x-")


def _periods() -> pd.DataFrame:
    rows = []
    quarters = [("2023/24 Q4", "2024-01-01", "2024-03-31"), ("2024/25 Q1", "2024-04-01", "2024-06-30")]
    quarters += [("2024/25 Q2", "2024-07-01", "2024-09-30"), ("2024/25 Q3", "2024-10-01", "2024-12-31")]
    for label, start, end in quarters:
        rows.append(("quarter", label, start, end, True))
        rolling_start = (pd.Timestamp(end) - pd.DateOffset(months=12) + pd.Timedelta(days=1)).date()
        rows.append(("rolling_12m", f"12 months to {label}", str(rolling_start), end, True))
    rows.append(("quarter", "2024/25 Q4", "2025-01-01", "2025-03-31", False))
    rows.append(("academic_year", "2022/23", "2022-09-01", "2023-08-31", True))
    rows.append(("academic_year", "2023/24", "2023-09-01", "2024-08-31", True))
    rows.append(("academic_year", "2024/25", "2024-09-01", "2025-08-31", True))
    rows.append(("financial_year", "2023/24", "2023-04-01", "2024-03-31", True))
    rows.append(("financial_year", "2024/25", "2024-04-01", "2025-03-31", False))
    frame = pd.DataFrame(
        rows, columns=["period_type", "period_label", "period_start", "period_end", "is_complete"]
    )
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    frame["period_end"] = pd.to_datetime(frame["period_end"])
    return frame


def test_edition_is_the_latest_complete_quarter_with_the_last_ended_school_year():
    edition = nl.choose_edition(_periods(), None)
    assert edition.quarter == "2024/25 Q3"  # Q4 is not complete
    assert edition.rolling == "12 months to 2024/25 Q3"
    assert (edition.rolling_start, edition.rolling_end) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert edition.rolling_text == "January to December 2024"
    assert edition.quarter_text == "October to December 2024"
    assert edition.academic_year == "2023/24"  # 2024/25 had not ended by December 2024
    assert edition.financial_year == "2023/24"  # the trend's last year, ended March 2024
    assert edition.rolling_series[-1] == edition.rolling
    assert edition.slug == "2024-25-Q3"


def test_edition_asked_for():
    edition = nl.choose_edition(_periods(), "2024/25 Q1")
    assert edition.rolling == "12 months to 2024/25 Q1"
    assert edition.academic_year == "2022/23"
    assert edition.financial_year == "2023/24"
    assert edition.rolling_text == "July 2023 to June 2024"
    with pytest.raises(nl.NewsletterError, match="no complete quarter"):
        nl.choose_edition(_periods(), "2024/25 Q4")
    with pytest.raises(nl.NewsletterError, match="no complete quarter"):
        nl.choose_edition(_periods(), "1999/00 Q1")


def test_public_csv_stars_suppressed_figures_and_defuses_formulas(tmp_path):
    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    con.execute(
        """create table pub_indicator_values as select * from (values
        ('smoking_at_delivery', 'centre', 'CC01', '=HYPERLINK("http://evil")', 'E06', 'rolling_12m',
         '12 months to 2024/25 Q3', date '2024-01-01', date '2024-12-31', 'all', 'all',
         null::bigint, 40::bigint, true, false, true,
         null::decimal(3,0), null::decimal(3,0), null::decimal(3,0), 100::decimal(3,0), false,
         'low_is_good', 10::decimal(3,0), 7.42::decimal(9,6), '2023/24', 'not compared', 'not compared',
         '12 months to 2023/24 Q3', null::decimal(3,0), 'not compared', 'not compared', 8::decimal(9,6),
         null::boolean),
        ('smoking_at_delivery', 'centre', 'CC02', '+Hillside', 'E06', 'rolling_12m',
         '12 months to 2024/25 Q3', date '2024-01-01', date '2024-12-31', 'all', 'all',
         15::bigint, 60::bigint, false, false, false,
         25::decimal(3,0), 15::decimal(3,0), 38::decimal(3,0), 98::decimal(3,0), false,
         'low_is_good', null::decimal(3,0), 7.42::decimal(9,6), '2023/24', 'not compared', 'worse',
         null, null::decimal(3,0), 'not compared', null, 8::decimal(9,6), false)
        ) as t(indicator_id, area_type, area_code, area_name, la_code, period_type, period_label,
               period_start, period_end, breakdown, breakdown_group, numerator, denominator,
               numerator_suppressed, denominator_suppressed, is_suppressed,
               value_pct, lower_95, upper_95, coverage_pct, low_coverage, polarity, la_value_pct,
               england_value_pct, england_period, vs_la, vs_england, year_earlier_period_label,
               year_earlier_value_pct, change_vs_year_earlier, trend, target_pct, meets_target)"""
    )
    # both figures were revised; CC01's earlier figure may not be shown (it is suppressed now)
    con.execute(
        """create table pub_indicator_revisions as select * from (values
        ('smoking_at_delivery', 'centre', 'CC01', 'E06', 'rolling_12m', '12 months to 2024/25 Q3', 'all',
         timestamp '2025-01-02 10:00:00', null::decimal(3,0)),
        ('smoking_at_delivery', 'centre', 'CC02', 'E06', 'rolling_12m', '12 months to 2024/25 Q3', 'all',
         timestamp '2025-01-02 10:00:00', 30::decimal(3,0))
        ) as t(indicator_id, area_type, area_code, la_code, period_type, period_label, breakdown,
               revised_at, previous_value_pct)"""
    )
    path = nl.write_public_csv(con, tmp_path / "public" / "pub_indicator_values.csv")
    con.close()
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first, second = rows
    assert first["area_name"] == '\'=HYPERLINK("http://evil")'
    assert second["area_name"] == "'+Hillside"
    assert (first["numerator"], first["denominator"], first["value_pct"], first["lower_95"]) == (
        "*",
        "40",
        "*",
        "*",
    )
    assert first["year_earlier_value_pct"] == "*"  # a year-earlier period exists but is suppressed
    assert second["la_value_pct"] == "*"  # the city's figure is suppressed
    assert (second["numerator"], second["value_pct"], second["year_earlier_value_pct"]) == ("15", "25", "")
    assert second["england_value_pct"] == "7.42"
    assert (first["is_revised"], first["previous_value_pct"]) == ("true", "*")
    assert (second["is_revised"], second["previous_value_pct"]) == ("true", "30")
    assert list(rows[0]) == nl.PUBLIC_COLUMNS


def test_a_revised_figure_says_what_it_was_in_plain_words(monkeypatch):
    import textstat

    assert nl.revised_note(None) is None
    shown = nl.revised_note({"previous_value_pct": 11})
    assert shown == {"earlier": "11%", "text": f"{nl.REVISED_SENTENCE} It was 11% before."}
    withheld = nl.revised_note({"previous_value_pct": None})
    assert withheld == {"earlier": None, "text": nl.REVISED_SENTENCE}
    # the same reading age as the rest of the newsletter (see test_newsletter.py)
    monkeypatch.setattr(textstat.backend.counts._count_syllables, "get_cmudict", lambda lang: None)
    textstat.set_lang("en_GB")
    assert textstat.flesch_kincaid_grade(shown["text"]) <= 6


def test_the_trend_is_told_for_the_last_year_in_words():
    fact = nl._trend_fact({"period_label": "2023/24", "trend": "increasing"})
    assert fact["label"] == "Trend (5 years to 2023/24)"
    assert (fact["value"], fact["period"]) == ("increasing", "2023/24")
    assert fact["text"] == "rising (test for trend, 5 years)"
    short = nl._trend_fact({"period_label": "2023/24", "trend": None})
    assert (short["value"], short["text"]) == ("none", nl.TREND_TOO_SHORT)
    assert nl._trend_fact(None) == {"label": "Trend", "text": nl.TREND_TOO_SHORT}
    # every word the marts can say is said, and no rolling or quarterly value is
    assert set(nl.TREND_WORDS) == {"increasing", "decreasing", "no_significant_change", "not compared"}
