{#-
    The periods a build recomputes: one row per period type, every period of that type
    starting on or after `recompute_from` (docs/incremental.md).

    In a quarterly build (macro quarterly_build) a period is touched when a cell of
    int_indicator_cells in a quarter (NCMP: academic year) it holds changed, in either
    direction (int_touched_quarters), or when the period itself changed (new, gone, or now
    complete): the warehouse still holds the last build's dim_period when this model runs
    (it is built after it).
    Every later period of the same type is recomputed too, since the trend and the
    year-earlier comparison of a period read the periods before it (macro touched_periods
    derives how far back those windows read from recompute_from). Only the period start is
    stored: a date a window reaches back to may equal a child's date of birth, which nothing
    downstream of staging may hold.

    Any other build (or a first one) touches everything.
-#}

{%- set previous_periods = none -%}
{%- if execute and quarterly_build() -%}
{%- set previous_periods = adapter.get_relation(
    database=this.database, schema=this.schema, identifier='dim_period'
) -%}
{%- endif -%}
{%- set period_columns = 'period_type, period_label, period_start, period_end, is_complete' %}

/* depends_on: {{ ref('int_touched_quarters') }} */

with

periods as (

    select {{ period_columns }} from {{ ref('int_periods') }}

),

{% if previous_periods is not none %}
changed_quarters as (

    select
        quarter_start,
        academic_year
    from {{ ref('int_touched_quarters') }}
    where counts = 'indicator_cells'

),

previous_periods as (

    select {{ period_columns }} from {{ previous_periods }}

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
