{#-
    Every reporting period the data reach (shared/specs/indicators.md): financial quarters,
    rolling 12 months ending each quarter (only where all four quarters lie within the data),
    financial years, and NCMP academic years. `is_complete` is false for a period that ends
    after the latest extract of its feeds (the quarter or year still in progress): records
    of it may still arrive.
-#}

with

events as (

    select * from {{ ref('int_indicator_events_classified') }}

),

births as (

    select * from {{ ref('stg_maternity__births') }}

),

reviews as (

    select * from {{ ref('stg_health_visiting__reviews') }}

),

measurements as (

    select * from {{ ref('stg_ncmp__measurements') }}

),

extract_dates as (

    select max(extract_date) as last_extract_date from births
    union all
    select max(extract_date) as last_extract_date from reviews

),

latest_extract as (

    -- quarters are complete once every quarterly feed has sent an extract after them
    select min(last_extract_date) as last_extract_date
    from extract_dates
    where last_extract_date is not null

),

latest_ncmp_extract as (

    select max(extract_date) as last_extract_date from measurements

),

-- every quarter from April 1990 to January 2060 (280 quarters); the interval is written in
-- parentheses, since dbt-spark's dateadd multiplies it as written
quarter_spine as (

    select
        cast(
            {{ dbt.dateadd('month', '(3 * (generated_number - 1))', "cast('1990-04-01' as date)") }}
            as date
        ) as date_quarter

    from ({{ dbt.generate_series(280) }}) as quarter_numbers

),

data_range as (

    select
        min({{ dbt.date_trunc('quarter', 'event_date') }}) as first_quarter,
        max({{ dbt.date_trunc('quarter', 'event_date') }}) as last_quarter

    from events
    where event_date is not null

),

quarters as (

    select
        cast(quarter_spine.date_quarter as date) as quarter_start,
        data_range.first_quarter,
        latest_extract.last_extract_date

    from quarter_spine
    cross join data_range
    cross join latest_extract
    where
        quarter_spine.date_quarter >= data_range.first_quarter
        and quarter_spine.date_quarter <= data_range.last_quarter

),

quarter_periods as (

    select
        'quarter' as period_type,
        {{ financial_quarter_label('quarter_start') }} as period_label,
        quarter_start as period_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 3, 'quarter_start')) }} as date)
            as period_end,
        last_extract_date

    from quarters

),

rolling_periods as (

    select
        'rolling_12m' as period_type,
        {{ dbt.concat(["'12 months to '", financial_quarter_label('quarter_start')]) }}
            as period_label,
        cast({{ dbt.dateadd('month', -9, 'quarter_start') }} as date) as period_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 3, 'quarter_start')) }} as date)
            as period_end,
        last_extract_date

    from quarters
    where {{ dbt.dateadd('month', -9, 'quarter_start') }} >= first_quarter

),

financial_years as (

    select distinct
        'financial_year' as period_type,
        {{ financial_year_label('quarter_start') }} as period_label,
        cast({{ dbt.concat([
            "cast(" ~ financial_year_start('quarter_start') ~ " as " ~ dbt.type_string() ~ ")",
            "'-04-01'",
        ]) }} as date) as period_start,
        cast({{ dbt.concat([
            "cast(" ~ financial_year_start('quarter_start') ~ " + 1 as "
            ~ dbt.type_string() ~ ")",
            "'-03-31'",
        ]) }} as date) as period_end,
        last_extract_date

    from quarters

),

academic_years as (

    select
        'academic_year' as period_type,
        events.academic_year as period_label,
        {{ academic_year_start('events.academic_year') }} as period_start,
        cast({{ dbt.concat([
            "cast(cast(substring(events.academic_year, 1, 4) as " ~ dbt.type_int() ~ ") + 1 as "
            ~ dbt.type_string() ~ ")",
            "'-08-31'",
        ]) }} as date) as period_end,
        max(latest_ncmp_extract.last_extract_date) as last_extract_date

    from events
    cross join latest_ncmp_extract
    where events.academic_year is not null
    group by events.academic_year

),

all_periods as (

    select * from quarter_periods
    union all
    select * from rolling_periods
    union all
    select * from financial_years
    union all
    select * from academic_years

),

final as (

    select
        period_type,
        period_label,
        period_start,
        period_end,
        coalesce(period_end < last_extract_date, false) as is_complete

    from all_periods

)

select * from final
