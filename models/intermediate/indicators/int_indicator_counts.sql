{#-
    Units, denominator and numerator of every indicator for every area (centre and local
    authority), period and breakdown: the cells summed into periods, breakdowns and areas.
    Only combinations with a non-zero denominator are kept (the mart contract).
-#}

{{ config(
    materialized=period_materialization(),
    incremental_strategy='replace_periods',
    on_schema_change='fail',
) }}

{%- if quarterly_build() %}
/* depends_on: {{ ref('int_touched_periods') }} */
{%- endif %}

with

cells as (

    select * from {{ ref('int_indicator_cells') }}

),

periods as (

    -- a quarterly build counts the touched periods only (macro where_touched_periods)
    select * from {{ ref('int_periods') }}
    {{- where_touched_periods() }}

),

areas as (

    select * from {{ ref('int_areas') }}

),

cells_in_periods as (

    select
        cells.indicator_id,
        cells.centre_code,
        cells.la_code,
        cells.mother_age_group,
        cells.ethnic_group,
        cells.imd_quintile,
        cells.units,
        cells.denominator,
        cells.numerator,
        periods.period_type,
        periods.period_label,
        periods.period_start,
        periods.period_end

    from cells
    inner join periods
        on
            cells.quarter_start >= periods.period_start
            and cells.quarter_start <= periods.period_end
            and periods.period_type in ('quarter', 'rolling_12m', 'financial_year')
    where cells.quarter_start is not null

    union all

    select
        cells.indicator_id,
        cells.centre_code,
        cells.la_code,
        cells.mother_age_group,
        cells.ethnic_group,
        cells.imd_quintile,
        cells.units,
        cells.denominator,
        cells.numerator,
        periods.period_type,
        periods.period_label,
        periods.period_start,
        periods.period_end

    from cells
    inner join periods
        on
            cells.academic_year = periods.period_label
            and periods.period_type = 'academic_year'

),

breakdowns as (

    select
        'all' as breakdown,
        indicator_id,
        centre_code,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        units,
        denominator,
        numerator
    from cells_in_periods

    union all

    select
        mother_age_group as breakdown,
        indicator_id,
        centre_code,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        units,
        denominator,
        numerator
    from cells_in_periods
    where mother_age_group is not null

    union all

    select
        ethnic_group as breakdown,
        indicator_id,
        centre_code,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        units,
        denominator,
        numerator
    from cells_in_periods

    union all

    select
        {{ dbt.concat(["'imd_q'", "cast(imd_quintile as " ~ dbt.type_string() ~ ")"]) }}
            as breakdown,
        indicator_id,
        centre_code,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        units,
        denominator,
        numerator
    from cells_in_periods
    where imd_quintile is not null

),

by_area as (

    select
        'centre' as area_type,
        centre_code as area_code,
        indicator_id,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        units,
        denominator,
        numerator
    from breakdowns

    union all

    select
        'la' as area_type,
        la_code as area_code,
        indicator_id,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        units,
        denominator,
        numerator
    from breakdowns

),

summed as (

    select
        indicator_id,
        area_type,
        area_code,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        sum(units) as units,
        sum(denominator) as denominator,
        sum(numerator) as numerator

    from by_area
    group by
        indicator_id,
        area_type,
        area_code,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown

),

named as (

    select
        summed.indicator_id,
        summed.area_type,
        summed.area_code,
        areas.area_name,
        summed.la_code,
        summed.period_type,
        summed.period_label,
        summed.period_start,
        summed.period_end,
        summed.breakdown,
        cast(summed.units as {{ dbt.type_bigint() }}) as units,
        cast(summed.denominator as {{ dbt.type_bigint() }}) as denominator,
        cast(summed.numerator as {{ dbt.type_bigint() }}) as numerator

    from summed
    left join areas
        on
            summed.area_type = areas.area_type
            and summed.area_code = areas.area_code
    where summed.denominator > 0

)

select * from named
