{#-
    Whether each indicator figure was revised: one row per row of fct_indicator_values.

    A figure is revised when its counts (units, denominator or numerator) changed after they
    had been recorded for a complete period: a later extract corrected records of that
    period (the latest extract's copy of a record wins, so the period is restated). Figures
    of a period still filling in change as records arrive; that is not a revision.

    is_revised marks the figures revised by the latest data change (the latest build that
    changed any figure): what a newsletter made from this build flags as revised.
    last_revised_at and the previous_* columns keep the latest revision of every figure,
    however old. Exact counts: analysts only; public outputs read is_revised alone.
-#}

{%- set figure = 'indicator_id, area_type, area_code, period_type, period_label, breakdown' -%}

with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}

),

versions as (

    select * from {{ ref('fct_indicator_versions') }}

),

versions_with_previous as (

    select
        indicator_id,
        area_type,
        area_code,
        period_type,
        period_label,
        breakdown,
        units,
        denominator,
        numerator,
        recorded_at,
        lag(units) over (partition by {{ figure }} order by recorded_at) as previous_units,
        lag(denominator) over (partition by {{ figure }} order by recorded_at)
            as previous_denominator,
        lag(numerator) over (partition by {{ figure }} order by recorded_at)
            as previous_numerator,
        lag(value_pct) over (partition by {{ figure }} order by recorded_at)
            as previous_value_pct,
        lag(is_complete) over (partition by {{ figure }} order by recorded_at)
            as previous_is_complete,
        lag(recorded_at) over (partition by {{ figure }} order by recorded_at)
            as previous_recorded_at

    from versions

),

revisions as (

    select
        indicator_id,
        area_type,
        area_code,
        period_type,
        period_label,
        breakdown,
        recorded_at as revised_at,
        previous_units,
        previous_denominator,
        previous_numerator,
        previous_value_pct,
        previous_recorded_at,
        row_number() over (partition by {{ figure }} order by recorded_at desc) as recency_rank,
        count(*) over (partition by {{ figure }}) as revision_count

    from versions_with_previous
    where
        previous_is_complete
        and (
            units != previous_units
            or denominator != previous_denominator
            or numerator != previous_numerator
        )

),

latest_revisions as (

    select
        indicator_id,
        area_type,
        area_code,
        period_type,
        period_label,
        breakdown,
        revised_at,
        previous_units,
        previous_denominator,
        previous_numerator,
        previous_value_pct,
        previous_recorded_at,
        revision_count

    from revisions
    where recency_rank = 1

),

latest_change as (

    select max(recorded_at) as changed_at
    from versions

),

figures as (

    select
        indicator_values.indicator_id,
        indicator_values.area_type,
        indicator_values.area_code,
        indicator_values.period_type,
        indicator_values.period_label,
        indicator_values.period_start,
        indicator_values.breakdown,
        indicator_values.units,
        indicator_values.denominator,
        indicator_values.numerator,
        indicator_values.value_pct,
        coalesce(latest_revisions.revised_at = latest_change.changed_at, false) as is_revised,
        latest_revisions.revised_at as last_revised_at,
        latest_revisions.previous_units,
        latest_revisions.previous_denominator,
        latest_revisions.previous_numerator,
        latest_revisions.previous_value_pct,
        latest_revisions.previous_recorded_at,
        coalesce(latest_revisions.revision_count, 0) as revision_count

    from indicator_values
    cross join latest_change
    left join latest_revisions
        on
            indicator_values.indicator_id = latest_revisions.indicator_id
            and indicator_values.area_type = latest_revisions.area_type
            and indicator_values.area_code = latest_revisions.area_code
            and indicator_values.period_type = latest_revisions.period_type
            and indicator_values.period_label = latest_revisions.period_label
            and indicator_values.breakdown = latest_revisions.breakdown

)

select * from figures
