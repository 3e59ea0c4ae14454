{#-
    Units, denominator and numerator of every indicator for every area (centre and local
    authority), period and breakdown: the cells summed into periods, breakdowns and areas.
    Only combinations with a non-zero denominator are kept (the mart contract).
-#}

{{ period_model() }}

with

periods as (

    -- an incremental build counts the periods it recomputes only (macro period_model)
    select * from {{ ref('int_periods_enumerated') }}
    {{- where_recomputed() }}

),

cells as (

    select * from {{ ref('int_indicator_cells_counted') }}
    {%- if recompute_from() and is_incremental() %}
    -- and reads the cells of their quarters and school years only
    where
        quarter_start >= (
            select min(period_start) from periods
            where period_type in ('quarter', 'rolling_12m', 'financial_year')
        )
        or academic_year in (
            select period_label from periods
            where period_type = 'academic_year'
        )
    {%- endif %}

),

areas as (

    select * from {{ ref('int_areas_joined') }}

),

{#- Each cell counts in 'all' and in one category of each breakdown it has. -#}
{%- set breakdowns = [
    {'column': "'all'"},
    {'column': 'mother_age_group', 'where': 'mother_age_group is not null'},
    {'column': 'ethnic_group'},
    {'column': dbt.concat(["'imd_q'", "cast(imd_quintile as " ~ dbt.type_string() ~ ")"]),
     'where': 'imd_quintile is not null'},
] %}

-- Summed in stages, each over fewer rows than the last: the cells under each of their
-- breakdowns (per quarter or school year), then into periods per centre, then the centres
-- into their local authority.
cell_breakdowns as (

    {% for breakdown in breakdowns -%}
    select
        {{ breakdown.column }} as breakdown,
        indicator_id,
        centre_code,
        la_code,
        quarter_start,
        academic_year,
        units,
        denominator,
        numerator
    from cells
    {%- if breakdown.where %}
    where {{ breakdown.where }}
    {%- endif %}
    {% if not loop.last %}

    union all

    {% endif %}
    {%- endfor %}

),

breakdown_cells as (

    select
        breakdown,
        indicator_id,
        centre_code,
        la_code,
        quarter_start,
        academic_year,
        sum(units) as units,
        sum(denominator) as denominator,
        sum(numerator) as numerator

    from cell_breakdowns
    group by
        breakdown,
        indicator_id,
        centre_code,
        la_code,
        quarter_start,
        academic_year

),

breakdowns_in_periods as (

    select
        breakdown_cells.breakdown,
        breakdown_cells.indicator_id,
        breakdown_cells.centre_code,
        breakdown_cells.la_code,
        breakdown_cells.units,
        breakdown_cells.denominator,
        breakdown_cells.numerator,
        periods.period_type,
        periods.period_label,
        periods.period_start,
        periods.period_end

    from breakdown_cells
    inner join periods
        on
            breakdown_cells.quarter_start >= periods.period_start
            and breakdown_cells.quarter_start <= periods.period_end
            and periods.period_type in ('quarter', 'rolling_12m', 'financial_year')
    where breakdown_cells.quarter_start is not null

    union all

    select
        breakdown_cells.breakdown,
        breakdown_cells.indicator_id,
        breakdown_cells.centre_code,
        breakdown_cells.la_code,
        breakdown_cells.units,
        breakdown_cells.denominator,
        breakdown_cells.numerator,
        periods.period_type,
        periods.period_label,
        periods.period_start,
        periods.period_end

    from breakdown_cells
    inner join periods
        on
            breakdown_cells.academic_year = periods.period_label
            and periods.period_type = 'academic_year'

),

centre_counts as (

    select
        indicator_id,
        centre_code,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        sum(units) as units,
        sum(denominator) as denominator,
        sum(numerator) as numerator

    from breakdowns_in_periods
    group by
        indicator_id,
        centre_code,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown

),

summed as (

    select
        indicator_id,
        'centre' as area_type,
        centre_code as area_code,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        units,
        denominator,
        numerator

    from centre_counts

    union all

    select
        indicator_id,
        'la' as area_type,
        la_code as area_code,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        sum(units) as units,
        sum(denominator) as denominator,
        sum(numerator) as numerator

    from centre_counts
    group by
        indicator_id,
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
