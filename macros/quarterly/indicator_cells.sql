{#-
    Placed units of `events` (int_indicator_events' columns) counted at the finest grain the
    marts need: indicator, quarter (or NCMP academic year), centre and every breakdown
    attribute. int_indicator_cells stores them; int_touched_periods compares them with the
    cells the last build stored.
-#}
{% macro indicator_cells(events) -%}
    select
        indicator_id,
        cast({{ dbt.date_trunc('quarter', 'event_date') }} as date) as quarter_start,
        academic_year,
        centre_code,
        la_code,
        mother_age_group,
        ethnic_group,
        imd_quintile,
        count(*) as units,
        sum(case when is_in_denominator then 1 else 0 end) as denominator,
        sum(case when is_in_denominator and is_in_numerator then 1 else 0 end) as numerator

    from {{ events }}
    where is_placed
    group by
        indicator_id,
        cast({{ dbt.date_trunc('quarter', 'event_date') }} as date),
        academic_year,
        centre_code,
        la_code,
        mother_age_group,
        ethnic_group,
        imd_quintile
{%- endmacro %}
