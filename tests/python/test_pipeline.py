"""The whole pipeline on a small demo city: load, dbt build, publish, reports.

Nothing is lost (every row of every file is accepted or quarantined, every placed record is
counted once), the city equals the sum of its centres, every centre and period has its
indicators, and no identifier leaves staging.
"""

from __future__ import annotations

import re

import pytest

from pipeline import State
from reliability import CITY_ARGS, City


@pytest.fixture(scope="module")
def city(session_city: City) -> State:
    """The session's city, as built: these tests only read it."""
    return session_city.built


def test_every_row_of_every_file_is_accepted_or_quarantined(city):
    rows = city.query(
        """select l.file_name, l.rows_read, l.rows_accepted, l.rows_quarantined,
            (select count(*) from raw.quarantine q where q.file_name = l.file_name),
            (select count(*) from raw.maternity m where m.file_name = l.file_name)
              + (select count(*) from raw.health_visiting h where h.file_name = l.file_name)
              + (select count(*) from raw.ncmp n where n.file_name = l.file_name)
        from raw.load_log l where l.feed in ('maternity', 'health_visiting', 'ncmp')"""
    )
    assert len(rows) > 12  # two years of quarterly extracts and the school years'
    for name, read, accepted, quarantined, in_quarantine, in_raw in rows:
        assert read == accepted + quarantined, name
        assert (accepted, quarantined) == (in_raw, in_quarantine), name
    assert sum(r[3] for r in rows) > 0, "the demo city sends some bad rows"


def test_staging_holds_one_row_per_record_from_the_latest_extract(city):
    for raw, key, model in [
        ("maternity", "birth_id", "stg_maternity__births"),
        ("health_visiting", "review_id", "stg_health_visiting__reviews"),
        ("ncmp", "ncmp_id", "stg_ncmp__measurements"),
    ]:
        ((distinct_keys, versions),) = city.query(f"select count(distinct {key}), count(*) from raw.{raw}")
        ((staged,),) = city.query(f"select count(*) from main.{model}")
        assert staged == distinct_keys < versions, raw  # resends exist, one version survives
    # the latest extract's copy wins
    stale = city.query(
        """select count(*) from main.stg_maternity__births s
        join (select birth_id, max(extract_date) as newest from raw.maternity group by birth_id) r
          using (birth_id)
        where s.extract_date <> r.newest"""
    )
    assert stale == [(0,)]


def test_city_numerator_and_denominator_are_the_sums_over_its_centres(city):
    mismatches = city.query(
        """with centres as (
            select indicator_id, la_code, period_type, period_label, breakdown,
                sum(numerator) as numerator, sum(denominator) as denominator
            from fct_indicator_values where area_type = 'centre'
            group by all),
        cities as (select * from fct_indicator_values where area_type = 'la')
        select coalesce(la.indicator_id, c.indicator_id), coalesce(la.period_label, c.period_label),
            coalesce(la.breakdown, c.breakdown)
        from cities la
        full join centres c
          on la.indicator_id = c.indicator_id and la.area_code = c.la_code
          and la.period_type = c.period_type and la.period_label = c.period_label
          and la.breakdown = c.breakdown
        where la.numerator is distinct from c.numerator
           or la.denominator is distinct from c.denominator"""
    )
    checked = city.query("select count(*) from fct_indicator_values where area_type = 'la'")
    assert checked[0][0] > 1000
    assert mismatches == []


def _placed(city: State, relation: str, postcode: str) -> str:
    """Raw records whose postcode reaches a centre, computed from the raw zone alone."""
    return f"""{relation} r
        join raw.postcode_lsoa p on p.postcode = r.{postcode}
        join raw.lsoa_centre c on c.lsoa_code = p.lsoa_code and c.centre_code is not null"""


LATEST = """(select * from raw.{table}
    qualify row_number() over (partition by {key} order by extract_date desc, source_row desc) = 1)"""


@pytest.mark.parametrize(
    ("indicator", "table", "key", "postcode", "condition", "period_type"),
    [
        (
            "breastfeeding_nbv", "health_visiting", "review_id", "child_postcode",
            "r.review_type = 'NBV'", "quarter",
        ),
        (
            "breastfeeding_6_8_weeks", "health_visiting", "review_id", "child_postcode",
            "r.review_type = '6-8W'", "quarter",
        ),
        ("low_birth_weight_all", "maternity", "birth_id", "mother_postcode", "r.live_birth = 'Y'", "quarter"),
        ("reception_obesity", "ncmp", "ncmp_id", "child_postcode", "r.school_year = 'R'", "academic_year"),
        ("year6_obesity", "ncmp", "ncmp_id", "child_postcode", "r.school_year = '6'", "academic_year"),
    ],
)  # fmt: skip
def test_every_placed_raw_record_is_counted_once(
    city, indicator, table, key, postcode, condition, period_type
):
    latest = LATEST.format(table=table, key=key)
    ((expected,),) = city.query(f"select count(*) from {_placed(city, latest, postcode)} where {condition}")
    ((counted,),) = city.query(
        """select sum(units) from fct_indicator_values
        where area_type = 'la' and breakdown = 'all' and period_type = ? and indicator_id = ?""",
        [period_type, indicator],
    )
    assert counted == expected > 0


def test_every_centre_and_period_has_every_indicator(city):
    missing = city.query(
        """with indicators as (
            select indicator_id,
                case when feed = 'ncmp' then 'academic_year' else 'quarter' end as period_type
            from dim_indicator),
        expected as (
            select i.indicator_id, a.area_code, p.period_label
            from indicators i
            cross join dim_area a
            join dim_period p on p.period_type = i.period_type
            where a.area_type in ('centre', 'la'))
        select e.* from expected e
        left join fct_indicator_values v
          on v.indicator_id = e.indicator_id and v.area_code = e.area_code
          and v.period_label = e.period_label and v.breakdown = 'all'
        where v.indicator_id is null"""
    )
    assert missing == []
    ((centres,),) = city.query("select count(*) from dim_area where area_type = 'centre'")
    assert centres == int(CITY_ARGS[CITY_ARGS.index("--centres") + 1])


IDENTIFYING_COLUMNS = re.compile(r"(postcode|birth_date|nhs_number|date_of_birth)", re.IGNORECASE)


def test_no_identifier_downstream_of_staging(city):
    columns = city.query(
        """select table_schema, table_name, column_name from information_schema.columns
        where table_schema not in ('raw')
          and table_name not like '%stg\\_%' escape '\\'"""
    )
    leaks = [c for c in columns if IDENTIFYING_COLUMNS.search(c[2])]
    assert leaks == []


def test_published_copies_hold_no_nhs_number_or_postcode(city):
    published = city.query(
        "select table_name, column_name from information_schema.columns where data_type = 'VARCHAR'",
        published=True,
    )
    assert {t for t, _ in published} >= {"fct_indicator_values", "fct_return_completeness", "dim_indicator"}
    for table, column in published:
        hits = city.query(
            f"""select count(*) from "{table}"
            where regexp_matches("{column}", '\\b[0-9]{{10}}\\b')
               or regexp_matches("{column}", '^[A-Z]{{1,2}}[0-9][0-9A-Z]? [0-9][A-Z]{{2}}$')""",
            published=True,
        )
        assert hits == [(0,)], (table, column)


def test_published_marts_equal_the_warehouse(city):
    for table in ("fct_indicator_values", "fct_return_completeness"):
        ((live,),) = city.query(f"select count(*) from main.{table}")
        ((copy,),) = city.query(f"select count(*) from {table}", published=True)
        assert live == copy > 0
        files = sorted((city.published.parent / "parquet" / table).glob("*.parquet"))
        assert [path.name for path in files] == [f"{table}.parquet"]
        ((in_files,),) = city.query(f"select count(*) from read_parquet('{files[0]}')")
        assert in_files == live


def test_data_quality_report_lists_the_worst_gap_first(city):
    html = (city.reports / "data_quality" / "index.html").read_text(encoding="utf-8")
    ((item, area, pct),) = city.query(
        """with latest as (select feed, max(period_start) as period_start
                           from fct_return_completeness group by feed)
        select d.description, c.area_code, c.completeness_pct
        from fct_return_completeness c join latest using (feed, period_start)
        join dim_data_quality_item d using (item_id)
        where c.area_type = 'centre' and c.status <> 'meets_target'
        order by c.completeness_pct, c.expected - c.recorded desc limit 1""",
        published=True,
    )
    gaps = html[html.index('id="gaps"') :]
    first_row = gaps[gaps.index("<tbody>") : gaps.index("</tr>", gaps.index("<tbody>"))]
    assert item in first_row and f"({area})" in first_row and f"{pct:.1f}%" in first_row
    # The new-birth-visit recording story is told at a glance.
    assert "Feeding status recorded at the new birth visit" in html[: html.index('id="gaps"')]


def test_chase_list_names_records_without_identifiers(city):
    text = (city.reports / "data_quality" / "chase_list.csv").read_text(encoding="utf-8")
    header, *rows = text.splitlines()
    assert header == "feed,period_label,la_code,centre_code,centre_name,record_key,item_id,missing_item"
    assert rows
    assert not re.search(r"\b\d{10}\b", text)
    assert not re.search(r"\b[A-Z]{1,2}\d[0-9A-Z]? \d[A-Z]{2}\b", text)


def test_dbt_warnings_are_summarised_in_one_table(city):
    summary = city.reports / "data_quality" / "dbt_test_warnings.csv"
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("status,node,rows,examples,relation,message")
    assert "return_completeness_below_target" in text


def test_dbt_docs_site_builds_as_one_static_page(session_city: City):
    city = session_city.restore()  # dbt writes its catalog: on a copy
    city.dbt("docs", "generate", "--static")
    page = city.root / "target" / "static_index.html"
    text = page.read_text(encoding="utf-8")
    assert "fct_indicator_values" in text and "fct_return_completeness" in text
