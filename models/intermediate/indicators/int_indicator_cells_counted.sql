{#-
    Placed units counted at the finest grain the marts need: indicator, quarter (or NCMP
    academic year), centre and every breakdown attribute. Every other count is a sum of
    these cells, so the city always equals the sum of its centres.
-#}

{%- set quarter_start = 'cast(' ~ dbt.date_trunc('quarter', 'event_date') ~ ' as date)' -%}

with

events as (

    select * from {{ ref('int_indicator_events_classified') }}

),

cells as (

    select
        indicator_id,
        {{ quarter_start }} as quarter_start,
        academic_year,
        centre_code,
        la_code,
        mother_age_group,
        ethnic_group,
        imd_quintile,
        count(*) as units,
        sum(case when is_in_denominator then 1 else 0 end) as denominator,
        sum(case when is_in_denominator and is_in_numerator then 1 else 0 end) as numerator

    from events
    where is_placed
    group by
        indicator_id,
        {{ quarter_start }},
        academic_year,
        centre_code,
        la_code,
        mother_age_group,
        ethnic_group,
        imd_quintile

)

select * from cells
