{#-
    The indicator values the newsletter and dashboards read (shared/specs/indicators.md,
    "Marts"): one row per indicator, area, period and breakdown with a non-zero denominator,
    with its confidence intervals, the city and England values beside it, the comparisons
    with them, the change since a year earlier, the recent trend, and the local target.

    No significance is claimed where coverage is low: vs_la, vs_england and
    change_vs_year_earlier are then 'not compared', and so is a trend over any low-coverage
    point. Choices where the spec is silent are in _indicators__models.yml.
-#}

{{ period_model() }}

{%- set series_key = 'indicator_id, area_type, area_code, breakdown, period_type' -%}
{%- set trend_points = 5 -%}
{%- set numerators = [] -%}
{%- set denominators = [] -%}
{%- for t in range(1, trend_points + 1) -%}
{%- do numerators.append('numerator_' ~ t) -%}
{%- do denominators.append('denominator_' ~ t) -%}
{%- endfor -%}

with

statistics as (

    -- an incremental build reads back as far as the trend (4 years before a year) and
    -- year-earlier windows reach; what only the recomputed periods need is computed for
    -- them alone
    select * from {{ ref('int_indicator_statistics_computed') }}
    {{- where_recomputed(months_back=60) }}

),

england_benchmarks as (

    select * from {{ ref('int_england_benchmarks_dated') }}

),

local_targets as (

    select * from {{ ref('local_targets') }}

),

la_values as (

    select
        indicator_id,
        la_code,
        period_type,
        period_label,
        breakdown,
        value_pct as la_value_pct,
        low_coverage as la_low_coverage

    from statistics
    where area_type = 'la'
    {{- where_recomputed(keyword='and') }}

),

period_starts as (

    select distinct
        indicator_id,
        period_start

    from statistics
    {{- where_recomputed() }}

),

-- the latest England value published for a period starting on or before the row's period
england_ranked as (

    select
        period_starts.indicator_id,
        period_starts.period_start,
        england_benchmarks.value_pct as england_value_pct,
        england_benchmarks.period_label as england_period,
        row_number() over (
            partition by period_starts.indicator_id, period_starts.period_start
            order by england_benchmarks.period_start desc, england_benchmarks.period_type asc
        ) as recency_rank

    from period_starts
    inner join england_benchmarks
        on
            period_starts.indicator_id = england_benchmarks.indicator_id
            and period_starts.period_start >= england_benchmarks.period_start

),

england_values as (

    select
        indicator_id,
        period_start,
        england_value_pct,
        england_period

    from england_ranked
    where recency_rank = 1

),

-- each row moved on a year, to meet the row it is the year-earlier period of: the same
-- quarter, the rolling period four quarters on, the next financial or academic year
year_earlier as (

    select
        indicator_id,
        area_type,
        area_code,
        breakdown,
        period_type,
        period_label as year_earlier_period_label,
        cast({{ dbt.dateadd('month', 12, 'period_start') }} as date) as following_year_start,
        value_pct as year_earlier_value_pct,
        lower_95 as year_earlier_lower_95,
        upper_95 as year_earlier_upper_95,
        low_coverage as year_earlier_low_coverage

    from statistics

),

-- the last 5 points of each yearly series ending at this row, oldest first (t = 1..5);
-- the trend is tested on financial and academic years only: rolling years share their
-- records with the points beside them, and quarters are SPC's (docs/methods.md)
trend_windows as (

    select
        indicator_id,
        area_type,
        area_code,
        breakdown,
        period_type,
        period_label,
        period_start,
        period_end,
        {% for lag_by in range(trend_points - 1, 0, -1) -%}
        lag(numerator, {{ lag_by }}) over (
            partition by {{ series_key }} order by period_start
        ) as numerator_{{ trend_points - lag_by }},
        lag(denominator, {{ lag_by }}) over (
            partition by {{ series_key }} order by period_start
        ) as denominator_{{ trend_points - lag_by }},
        {% endfor -%}
        numerator as numerator_{{ trend_points }},
        denominator as denominator_{{ trend_points }},
        lag(period_start, {{ trend_points - 1 }}) over (
            partition by {{ series_key }} order by period_start
        ) as first_point_start,
        -- where the 5 points are consecutive years, the first starts this long before
        cast(
            {{ dbt.dateadd('month', -12 * (trend_points - 1), 'period_start') }} as date
        ) as consecutive_first_start,
        max(case when low_coverage then 1 else 0 end) over (
            partition by {{ series_key }}
            order by period_start
            rows between {{ trend_points - 1 }} preceding and current row
        ) = 1 as has_low_coverage_point

    from statistics
    where period_type in ('financial_year', 'academic_year')

),

trends as (

    select
        indicator_id,
        area_type,
        area_code,
        breakdown,
        period_type,
        period_label,
        case
            when
                first_point_start is null
                or first_point_start != consecutive_first_start
                then null
            when has_low_coverage_point then 'not compared'
            else {{ trend_chi_square(numerators, denominators) }}
        end as trend

    from trend_windows
    {{- where_recomputed() }}

),

year_labelled as (

    select
        indicator_id,
        area_type,
        area_code,
        breakdown,
        period_type,
        period_label,
        -- a year's target also holds for the quarters and rolling periods ending in it
        case
            when period_type in ('quarter', 'rolling_12m')
                then {{ financial_year_label('period_end') }}
            else period_label
        end as year_label

    from statistics
    {{- where_recomputed() }}

),

targets_ranked as (

    select
        year_labelled.indicator_id,
        year_labelled.area_type,
        year_labelled.area_code,
        year_labelled.breakdown,
        year_labelled.period_type,
        year_labelled.period_label,
        local_targets.target_pct,
        -- the most specific target wins: an exact area first, then an exact period, then
        -- the period's year, then '*'
        row_number() over (
            partition by
                year_labelled.indicator_id,
                year_labelled.area_type,
                year_labelled.area_code,
                year_labelled.breakdown,
                year_labelled.period_type,
                year_labelled.period_label
            order by
                case when local_targets.area_code = '*' then 0 else 1 end desc,
                case
                    when local_targets.period_label = year_labelled.period_label then 2
                    when local_targets.period_label = year_labelled.year_label then 1
                    else 0
                end desc
        ) as specificity_rank

    from year_labelled
    inner join local_targets
        on
            year_labelled.indicator_id = local_targets.indicator_id
            and local_targets.area_code in (year_labelled.area_code, '*')
            and local_targets.period_label in (
                year_labelled.period_label, year_labelled.year_label, '*'
            )

),

targets as (

    select
        indicator_id,
        area_type,
        area_code,
        breakdown,
        period_type,
        period_label,
        target_pct

    from targets_ranked
    where specificity_rank = 1

),

joined as (

    select
        statistics.indicator_id,
        statistics.area_type,
        statistics.area_code,
        statistics.area_name,
        statistics.la_code,
        statistics.period_type,
        statistics.period_label,
        statistics.period_start,
        statistics.period_end,
        statistics.breakdown,
        statistics.units,
        statistics.denominator,
        statistics.numerator,
        statistics.value_pct,
        statistics.lower_95,
        statistics.upper_95,
        statistics.lower_998,
        statistics.upper_998,
        statistics.coverage_pct,
        statistics.low_coverage,
        statistics.polarity,
        la_values.la_value_pct,
        la_values.la_low_coverage,
        england_values.england_value_pct,
        england_values.england_period,
        year_earlier.year_earlier_period_label,
        year_earlier.year_earlier_value_pct,
        year_earlier.year_earlier_lower_95,
        year_earlier.year_earlier_upper_95,
        year_earlier.year_earlier_low_coverage,
        case
            when statistics.period_type in ('financial_year', 'academic_year') then trends.trend
            else 'not tested'
        end as trend,
        {{ to_percentage('targets.target_pct') }} as target_pct

    from statistics
    left join la_values
        on
            statistics.indicator_id = la_values.indicator_id
            and statistics.la_code = la_values.la_code
            and statistics.period_type = la_values.period_type
            and statistics.period_label = la_values.period_label
            and statistics.breakdown = la_values.breakdown
    left join england_values
        on
            statistics.indicator_id = england_values.indicator_id
            and statistics.period_start = england_values.period_start
    left join year_earlier
        on
            statistics.indicator_id = year_earlier.indicator_id
            and statistics.area_type = year_earlier.area_type
            and statistics.area_code = year_earlier.area_code
            and statistics.breakdown = year_earlier.breakdown
            and statistics.period_type = year_earlier.period_type
            and statistics.period_start = year_earlier.following_year_start
    left join trends
        on
            statistics.indicator_id = trends.indicator_id
            and statistics.area_type = trends.area_type
            and statistics.area_code = trends.area_code
            and statistics.breakdown = trends.breakdown
            and statistics.period_type = trends.period_type
            and statistics.period_label = trends.period_label
    left join targets
        on
            statistics.indicator_id = targets.indicator_id
            and statistics.area_type = targets.area_type
            and statistics.area_code = targets.area_code
            and statistics.breakdown = targets.breakdown
            and statistics.period_type = targets.period_type
            and statistics.period_label = targets.period_label

),

judged as (

    select
        indicator_id,
        area_type,
        area_code,
        area_name,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        units,
        denominator,
        numerator,
        value_pct,
        lower_95,
        upper_95,
        lower_998,
        upper_998,
        coverage_pct,
        low_coverage,
        polarity,
        la_value_pct,
        england_value_pct,
        england_period,
        case
            when area_type != 'centre' then 'not compared'
            when low_coverage or coalesce(la_low_coverage, false) then 'not compared'
            else {{ compare_with_benchmark('lower_95', 'upper_95', 'la_value_pct', 'polarity') }}
        end as vs_la,
        case
            when low_coverage then 'not compared'
            else {{ compare_with_benchmark(
                'lower_95', 'upper_95', 'england_value_pct', 'polarity'
            ) }}
        end as vs_england,
        year_earlier_period_label,
        year_earlier_value_pct,
        case
            when low_coverage or coalesce(year_earlier_low_coverage, false) then 'not compared'
            else {{ change_between(
                'lower_95', 'upper_95', 'year_earlier_lower_95', 'year_earlier_upper_95'
            ) }}
        end as change_vs_year_earlier,
        trend,
        target_pct,
        case
            when polarity = 'low_is_good' then value_pct <= target_pct
            when polarity = 'high_is_good' then value_pct >= target_pct
        end as meets_target

    from joined

)

select * from judged
{{- where_recomputed() }}
