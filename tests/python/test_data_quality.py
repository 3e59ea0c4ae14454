"""Return completeness on a small hand-computed fixture, and the warning a gap raises.

Two centres, one quarter (2024/25 Q1). Riverside (CC01) records everything; Hillside (CC02)
records the smoking status of 1 delivery in 4 and the feeding status of 1 visit in 3.
"""

from __future__ import annotations

import pytest

from landing import HV_HEADER, MATERNITY_HEADER, REFERENCE, TEST_KEY, write_csv
from pipeline import State

# birth_id,delivery_id,mother_nhs,baby_nhs,mother_dob,postcode,ethnic,delivery_date,gestation,
# weight,live,method,smoking,bf_initiated
MATERNITY = [
    "B1,D1,,,1990-01-01,DC1 1AA,A,2024-04-02,40,3400,Y,0,N,Y",
    "B2,D2,,,1990-01-01,DC1 1AA,A,2024-04-03,40,3300,Y,0,Y,Y",
    "B3,D3,,,1990-01-01,DC1 1AA,Z,2024-05-04,39,3200,Y,7,N,N",
    "B4,D4,,,1990-01-01,DC11AA,A,2024-06-05,38,2400,Y,1,N,Y",
    "B5,D5,,,1990-01-01,DC1 1AB,A,2024-04-06,40,3400,Y,0,Y,Y",
    "B6,D6,,,1990-01-01,DC1 1AB,99,2024-04-07,40,3400,Y,0,U,Y",
    "B7,D7,,,1990-01-01,DC1 1AB,A,2024-05-08,40,,Y,X,,U",
    "B8,D8,,,1990-01-01,DC1 1AB,A,2024-06-09,,3400,Y,0,,Y",
    "B9,D9,,,1990-01-01,ZZ9 9ZZ,A,2024-06-10,40,3400,Y,0,N,Y",
]
REVIEWS = [
    "R1,,2024-04-01,DC1 1AA,NBV,2024-04-15,2024-04-14,TOTAL",
    "R2,,2024-04-02,DC1 1AA,NBV,2024-04-16,2024-04-20,NONE",
    "R3,,2024-04-03,DC1 1AB,NBV,2024-04-17,2024-04-16,",
    "R4,,2024-04-04,DC1 1AB,NBV,2024-04-18,,",
    "R5,,2024-04-05,DC1 1AB,NBV,2024-04-19,2024-04-19,PARTIAL",
]


@pytest.fixture(scope="module")
def fixture_city(tmp_path_factory) -> State:
    state = State(tmp_path_factory.mktemp("dq"))
    write_csv(state.landing / "maternity" / "maternity_20240715.csv", MATERNITY_HEADER, MATERNITY)
    write_csv(state.landing / "health_visiting" / "health_visiting_20240715.csv", HV_HEADER, REVIEWS)
    (state.landing / "reference").mkdir(parents=True)
    for name, text in REFERENCE.items():
        (state.landing / "reference" / name).write_text(text, encoding="utf-8")
    state.python("cc_warehouse", "load", "--no-validate", CC_PSEUDO_KEY=TEST_KEY)
    state.build("--exclude", "test_type:unit")
    # a city without NCMP returns and without boundaries still gets its reports
    state.python("cc_warehouse", "reports")
    return state


def completeness(state: State, item: str, feed: str = "%") -> dict[str, tuple]:
    rows = state.query(
        """select area_code, expected, recorded, round(completeness_pct, 1), status
        from fct_return_completeness
        where item_id = ? and feed like ? and period_label = '2024/25 Q1'""",
        [item, feed],
    )
    return {area: tuple(values) for area, *values in rows}


def test_completeness_matches_hand_counts(fixture_city):
    assert completeness(fixture_city, "smoking_status_known") == {
        "CC01": (4, 4, 100.0, "meets_target"),
        "CC02": (4, 1, 25.0, "below_minimum"),
        "E06999999": (8, 5, 62.5, "below_minimum"),
    }
    assert completeness(fixture_city, "ethnicity_known") == {
        "CC01": (4, 3, 75.0, "below_minimum"),
        "CC02": (4, 3, 75.0, "below_minimum"),
        "E06999999": (8, 6, 75.0, "below_minimum"),
    }
    assert completeness(fixture_city, "birth_weight_known")["CC02"] == (4, 3, 75.0, "below_minimum")
    assert completeness(fixture_city, "gestation_known")["CC02"] == (4, 3, 75.0, "below_minimum")
    assert completeness(fixture_city, "delivery_method_known")["CC02"] == (4, 3, 75.0, "below_minimum")
    assert completeness(fixture_city, "nbv_feeding_status_recorded") == {
        "CC01": (2, 2, 100.0, "meets_target"),
        "CC02": (3, 1, 33.3, "below_minimum"),
        "E06999999": (5, 3, 60.0, "below_minimum"),
    }
    # within 14 days of birth: R1 (day 13) and R3 (day 13), R5 (day 14); R2 day 18, R4 not done
    assert completeness(fixture_city, "nbv_within_14_days")["E06999999"] == (5, 3, 60.0, "below_minimum")
    # B9's postcode is in no lookup: 8 of 9 deliveries placed, reported for the whole extract
    assert completeness(fixture_city, "postcode_placed", "maternity") == {"all": (9, 8, 88.9, "below_target")}
    assert completeness(fixture_city, "postcode_placed", "health_visiting") == {
        "all": (5, 5, 100.0, "meets_target")
    }


def test_the_report_names_the_worst_gap_first(fixture_city):
    html = (fixture_city.reports / "data_quality" / "index.html").read_text(encoding="utf-8")
    gaps = html[html.index('id="gaps"') :]
    first_row = gaps[gaps.index("<tbody>") : gaps.index("</tr>", gaps.index("<tbody>"))]
    # Hillside's smoking return (1 of 4) is the worst in the latest quarter
    assert "Smoking status at delivery recorded" in first_row and "(CC02)" in first_row
    assert "25.0%" in first_row


def test_a_gap_in_one_centre_warns_naming_it_and_the_build_succeeds(fixture_city):
    # the fixture's build returned 0; the warning and its stored rows name the centre
    stored = fixture_city.query(
        """select feed, item_id, area_code, period_label from audit.return_completeness_below_target
        where item_id = 'smoking_status_known'"""
    )
    assert ("maternity", "smoking_status_known", "CC02", "2024/25 Q1") in stored
    assert all(area != "CC01" for _, _, area, _ in stored)
    summary = fixture_city.python(
        "cc_warehouse.build.dbt_summary",
        "--run-results",
        str(fixture_city.root / "target" / "run_results.json"),
    )
    line = next(x for x in summary.stdout.splitlines() if "return_completeness_below_target" in x)
    # worst first: Hillside's 25% smoking return leads the examples
    assert line.startswith("warn") and "smoking_status_known CC02 2024/25 Q1 25.0" in line
