{#-
    The periods a build recomputes: one row per period type, every period of that type
    starting on or after `recompute_from` (README "Incremental quarters").

    In a quarterly build (macro quarterly_build) the warehouse still holds the last build's
    int_indicator_cells and dim_period when this model runs (both are built after it). A
    period is touched when a cell of a quarter (NCMP: academic year) it holds changed, in
    either direction, or when the period itself changed (new, gone, or now complete). Cells
    are compared rather than records, so whatever moved a count (a new record, a correction
    moving a record to another quarter or centre, a late link to a birth) is found.
    Every later period of the same type is recomputed too, since the trend and the
    year-earlier comparison of a period read the periods before it (macro touched_periods
    derives how far back those windows read from recompute_from). Only the period start is
    stored: a date a window reaches back to may equal a child's date of birth, which nothing
    downstream of staging may hold.

    Any other build (or a first one) touches everything.
-#}

{%- set previous_cells = none -%}
{%- set previous_periods = none -%}
{%- if execute and quarterly_build() -%}
{%- set previous_cells = adapter.get_relation(
    database=this.database, schema=this.schema, identifier='int_indicator_cells'
) -%}
{%- set previous_periods = adapter.get_relation(
    database=this.database, schema=this.schema, identifier='dim_period'
) -%}
{%- endif -%}
{%- set cell_columns = (
    'indicator_id, quarter_start, academic_year, centre_code, la_code, mother_age_group, '
    ~ 'ethnic_group, imd_quintile, units, denominator, numerator'
) -%}
{%- set period_columns = 'period_type, period_label, period_start, period_end, is_complete' %}

/* depends_on: {{ ref('int_indicator_events') }} */

with

periods as (

    select {{ period_columns }} from {{ ref('int_periods') }}

),

{% if previous_cells is not none and previous_periods is not none %}
events as (

    select * from {{ ref('int_indicator_events') }}

),

cells as (

    {{ indicator_cells('events') }}

),

previous_cells as (

    select {{ cell_columns }} from {{ previous_cells }}

),

previous_periods as (

    select {{ period_columns }} from {{ previous_periods }}

),

new_cells as (

    select {{ cell_columns }} from cells
    except
    select {{ cell_columns }} from previous_cells

),

gone_cells as (

    select {{ cell_columns }} from previous_cells
    except
    select {{ cell_columns }} from cells

),

changed_quarters as (

    select quarter_start, academic_year from new_cells
    union
    select quarter_start, academic_year from gone_cells

),

new_periods as (

    select * from periods
    except
    select * from previous_periods

),

gone_periods as (

    select * from previous_periods
    except
    select * from periods

),

any_periods as (

    select * from periods
    union
    select * from previous_periods

),

touched as (

    select
        any_periods.period_type,
        any_periods.period_start
    from any_periods
    inner join changed_quarters
        on
            any_periods.period_type in ('quarter', 'rolling_12m', 'financial_year')
            and changed_quarters.quarter_start >= any_periods.period_start
            and changed_quarters.quarter_start <= any_periods.period_end

    union all

    select
        any_periods.period_type,
        any_periods.period_start
    from any_periods
    inner join changed_quarters
        on
            any_periods.period_type = 'academic_year'
            and changed_quarters.academic_year = any_periods.period_label

    union all

    select
        period_type,
        period_start
    from new_periods

    union all

    select
        period_type,
        period_start
    from gone_periods

),
{% else %}
touched as (

    select
        period_type,
        period_start
    from periods

),
{% endif %}

final as (

    select
        period_type,
        min(period_start) as recompute_from

    from touched
    group by period_type

)

select * from final
