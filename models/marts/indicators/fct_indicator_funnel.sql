{#-
    Funnel plot of the centres of each local authority in one period, for every indicator
    and breakdown (shared/specs/indicators.md): p0 = sum(x) / sum(n) over the LA's centres,
    and control limits at 95% and 99.8% for each centre's denominator. `significance` says
    where the centre's value lies; 'not compared' where its coverage is low.
-#}

{{ period_model() }}

{%- set funnel_key = 'indicator_id, la_code, period_type, period_label, breakdown' -%}

with

statistics as (

    select * from {{ ref('int_indicator_statistics_computed') }}
    {{- where_recomputed() }}

),

centres as (

    select
        indicator_id,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        area_code,
        area_name,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        {{ as_double('sum(numerator) over (partition by ' ~ funnel_key ~ ')') }}
        / {{ as_double('sum(denominator) over (partition by ' ~ funnel_key ~ ')') }} as p0

    from statistics
    where area_type = 'centre'

),

limits as (

    select
        indicator_id,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        area_code,
        area_name,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        {{ to_percentage('100 * p0') }} as p0_pct,
        {{ to_percentage(funnel_limit('p0', 'denominator', z_95(), 'lower')) }}
            as lower_95_limit,
        {{ to_percentage(funnel_limit('p0', 'denominator', z_95(), 'upper')) }}
            as upper_95_limit,
        {{ to_percentage(funnel_limit('p0', 'denominator', z_998(), 'lower')) }}
            as lower_998_limit,
        {{ to_percentage(funnel_limit('p0', 'denominator', z_998(), 'upper')) }}
            as upper_998_limit

    from centres

),

judged as (

    select
        indicator_id,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        area_code,
        area_name,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        p0_pct,
        lower_95_limit,
        upper_95_limit,
        lower_998_limit,
        upper_998_limit,
        -- a value on a limit is within it, as a benchmark on an interval's end is similar
        case
            when low_coverage then 'not compared'
            when value_pct > upper_998_limit then 'above 99.8% limit'
            when value_pct > upper_95_limit then 'above 95% limit'
            when value_pct < lower_998_limit then 'below 99.8% limit'
            when value_pct < lower_95_limit then 'below 95% limit'
            else 'within limits'
        end as significance

    from limits

)

select * from judged
