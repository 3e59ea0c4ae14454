{#-
    Statistical process control (XmR) of the quarterly series, breakdown 'all', of every
    centre and local authority with 12 or more quarters (shared/specs/indicators.md;
    NHS "Making Data Count" as NHS-R's NHSRplotthedots computes it): mean, moving range,
    process limits, and the four special-cause rules, each flagging every point that takes
    part in it. As the reference does by default, a moving range of 3.267 or more times the
    mean moving range is left out of the limits (var spc_screen_outliers: false keeps it, as
    the Making Data Count spreadsheets do).
-#}

{%- set series = 'indicator_id, area_type, area_code' -%}
{%- set minimum_points = 12 -%}
{#- the moving ranges that count towards the limits -#}
{%- set kept_range = (
    'moving_range < ' ~ xmr_moving_range_screen_factor()
    ~ ' * raw_mean_moving_range or raw_mean_moving_range = 0'
) if var('spc_screen_outliers', true) else 'true' -%}

with

statistics as (

    select * from {{ ref('int_indicator_statistics_computed') }}

),

points as (

    select
        indicator_id,
        area_type,
        area_code,
        area_name,
        la_code,
        period_label,
        period_start,
        period_end,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        {{ as_double('value_pct') }} as point_value,
        row_number() over (partition by {{ series }} order by period_start) as point_number,
        count(*) over (partition by {{ series }}) as series_points

    from statistics
    where period_type = 'quarter' and breakdown = 'all'

),

moving_ranges as (

    select
        indicator_id,
        area_type,
        area_code,
        area_name,
        la_code,
        period_label,
        period_start,
        period_end,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        point_value,
        point_number,
        series_points,
        lag(point_value) over (
            partition by {{ series }} order by period_start
        ) as previous_value,
        abs(point_value - lag(point_value) over (
            partition by {{ series }} order by period_start
        )) as moving_range,
        avg(point_value) over (partition by {{ series }}) as mean_value

    from points
    where series_points >= {{ minimum_points }}

),

moving_range_means as (

    select
        indicator_id,
        area_type,
        area_code,
        area_name,
        la_code,
        period_label,
        period_start,
        period_end,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        point_value,
        point_number,
        series_points,
        previous_value,
        moving_range,
        mean_value,
        -- the average of the n - 1 moving ranges (the first point has none)
        avg(moving_range) over (partition by {{ series }}) as raw_mean_moving_range

    from moving_ranges

),

limits as (

    select
        indicator_id,
        area_type,
        area_code,
        area_name,
        la_code,
        period_label,
        period_start,
        period_end,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        point_value,
        point_number,
        series_points,
        previous_value,
        moving_range,
        mean_value,
        -- a range of 3.267 or more mean moving ranges is screened out and the mean taken again
        -- (a flat series, all ranges 0, keeps them)
        avg(
            case when {{ kept_range }} then moving_range end
        ) over (partition by {{ series }}) as mean_moving_range

    from moving_range_means

),

point_tests as (

    select
        indicator_id,
        area_type,
        area_code,
        area_name,
        la_code,
        period_label,
        period_start,
        period_end,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        point_number,
        series_points,
        moving_range,
        mean_value,
        mean_moving_range,
        {{ xmr_process_limit('mean_value', 'mean_moving_range', 'upper') }}
            as upper_process_limit,
        {{ xmr_process_limit('mean_value', 'mean_moving_range', 'lower') }}
            as lower_process_limit,
        point_value > {{ xmr_process_limit('mean_value', 'mean_moving_range', 'upper') }}
        or point_value < {{ xmr_process_limit('mean_value', 'mean_moving_range', 'lower') }}
            as is_outside_limits,
        point_value > previous_value as is_rise,
        point_value < previous_value as is_fall,
        point_value > mean_value as is_above_mean,
        point_value < mean_value as is_below_mean,
        -- beyond two thirds of the way to a limit but not beyond the limit itself
        point_value > {{ xmr_near_limit('mean_value', 'mean_moving_range', 'upper') }}
        and point_value <= {{ xmr_process_limit('mean_value', 'mean_moving_range', 'upper') }}
            as is_near_upper_limit,
        point_value < {{ xmr_near_limit('mean_value', 'mean_moving_range', 'lower') }}
        and point_value >= {{ xmr_process_limit('mean_value', 'mean_moving_range', 'lower') }}
            as is_near_lower_limit

    from limits

),

-- each rule as a window of consecutive points ending at this point
rule_windows as (

    select
        indicator_id,
        area_type,
        area_code,
        area_name,
        la_code,
        period_label,
        period_start,
        period_end,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        point_number,
        series_points,
        moving_range,
        mean_value,
        mean_moving_range,
        upper_process_limit,
        lower_process_limit,
        is_outside_limits,
        is_near_upper_limit,
        is_near_lower_limit,
        -- 7 points rising (or falling) in a row: 6 rises (falls) in a row; a tie breaks it
        {{ xmr_window_count('is_rise', series, 'period_start', 6) }} = 6
        or {{ xmr_window_count('is_fall', series, 'period_start', 6) }} = 6
            as ends_run_of_7_trend,
        -- a point on the mean is on neither side and breaks a shift
        {{ xmr_window_count('is_above_mean', series, 'period_start', 7) }} = 7
        or {{ xmr_window_count('is_below_mean', series, 'period_start', 7) }} = 7
            as ends_shift_of_7,
        -- 2 of 3 points near a limit, all 3 on its side of the mean (none on the mean)
        {{ xmr_window_count('is_near_upper_limit', series, 'period_start', 3) }} >= 2
        and {{ xmr_window_count('is_above_mean', series, 'period_start', 3) }} = 3
            as ends_two_of_three_near_upper,
        {{ xmr_window_count('is_near_lower_limit', series, 'period_start', 3) }} >= 2
        and {{ xmr_window_count('is_below_mean', series, 'period_start', 3) }} = 3
            as ends_two_of_three_near_lower

    from point_tests

),

flagged as (

    select
        indicator_id,
        area_type,
        area_code,
        area_name,
        la_code,
        period_label,
        period_start,
        period_end,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        point_number,
        series_points,
        moving_range,
        mean_value,
        mean_moving_range,
        upper_process_limit,
        lower_process_limit,
        coalesce(is_outside_limits, false) as is_outside_limits,
        {{ xmr_in_flagged_window('ends_run_of_7_trend', series, 'period_start', 7) }}
            as is_in_run_of_7_trend,
        {{ xmr_in_flagged_window('ends_shift_of_7', series, 'period_start', 7) }}
            as is_in_shift_of_7,
        -- only the points beyond two thirds count, not the third point of the window
        (
            coalesce(is_near_upper_limit, false)
            and {{ xmr_in_flagged_window(
                'ends_two_of_three_near_upper', series, 'period_start', 3
            ) }}
        )
        or (
            coalesce(is_near_lower_limit, false)
            and {{ xmr_in_flagged_window(
                'ends_two_of_three_near_lower', series, 'period_start', 3
            ) }}
        ) as is_two_of_three_near_limit

    from rule_windows

),

final as (

    select
        indicator_id,
        area_type,
        area_code,
        area_name,
        la_code,
        period_label,
        period_start,
        period_end,
        cast(point_number as {{ dbt.type_int() }}) as point_number,
        cast(series_points as {{ dbt.type_int() }}) as series_points,
        numerator,
        denominator,
        value_pct,
        low_coverage,
        {{ to_percentage('mean_value') }} as mean_pct,
        {{ to_percentage('moving_range') }} as moving_range,
        {{ to_percentage('mean_moving_range') }} as mean_moving_range,
        -- a percentage cannot pass 0 or 100, so the limits stop there
        {{ to_percentage(
            'case when upper_process_limit > 100 then 100 else upper_process_limit end'
        ) }} as upper_process_limit,
        {{ to_percentage(
            'case when lower_process_limit < 0 then 0 else lower_process_limit end'
        ) }} as lower_process_limit,
        is_outside_limits,
        is_in_run_of_7_trend,
        is_in_shift_of_7,
        is_two_of_three_near_limit,
        -- no special cause is claimed for a low-coverage point (the rule flags still show)
        (
            is_outside_limits
            or is_in_run_of_7_trend
            or is_in_shift_of_7
            or is_two_of_three_near_limit
        )
        and not low_coverage as is_special_cause

    from flagged

)

select * from final
