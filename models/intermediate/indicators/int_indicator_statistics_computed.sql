{#-
    The statistics of every indicator count (shared/specs/indicators.md, "Statistics"):
    value, Wilson score 95% and 99.8% limits, and coverage (denominator / units), flagged
    low where it falls below the indicator's threshold. Percentages are stored to 6 decimal
    places (macro type_percentage); low_coverage is decided on the exact counts.
-#}

{{ period_model() }}

with

counts as (

    select * from {{ ref('int_indicator_counts_summed') }}
    {{- where_recomputed() }}

),

indicators as (

    select * from {{ ref('indicator_metadata') }}

),

statistics as (

    select
        counts.indicator_id,
        counts.area_type,
        counts.area_code,
        counts.area_name,
        counts.la_code,
        counts.period_type,
        counts.period_label,
        counts.period_start,
        counts.period_end,
        counts.breakdown,
        counts.units,
        counts.denominator,
        counts.numerator,
        {{ to_percentage(
            '100 * ' ~ as_double('counts.numerator') ~ ' / ' ~ as_double('counts.denominator')
        ) }} as value_pct,
        {{ to_percentage(wilson_lower('counts.numerator', 'counts.denominator', z_95())) }}
            as lower_95,
        {{ to_percentage(wilson_upper('counts.numerator', 'counts.denominator', z_95())) }}
            as upper_95,
        {{ to_percentage(wilson_lower('counts.numerator', 'counts.denominator', z_998())) }}
            as lower_998,
        {{ to_percentage(wilson_upper('counts.numerator', 'counts.denominator', z_998())) }}
            as upper_998,
        {{ to_percentage(
            '100 * ' ~ as_double('counts.denominator')
            ~ ' / nullif(' ~ as_double('counts.units') ~ ', 0)'
        ) }} as coverage_pct,
        -- compared on the counts, unrounded: 84.999% is below an 85% threshold
        coalesce(
            100 * counts.denominator < indicators.coverage_threshold_pct * counts.units, false
        ) as low_coverage,
        indicators.polarity

    from counts
    left join indicators
        on counts.indicator_id = indicators.indicator_id
    -- no value and no interval without a denominator (the counts already drop these)
    where counts.denominator > 0

)

select * from statistics
