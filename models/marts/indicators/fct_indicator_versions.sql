{#-
    Every version of every indicator figure, one row per change: the memory that lets the
    marts say a published figure was revised (fct_indicator_revisions). A later extract may
    correct records of an old period ("Extracts are windows, not snapshots"), which restates
    that period's counts; each build appends the figures whose counts or completeness differ
    from their latest version here, so the new counts are kept beside the old ones.

    is_complete is kept with the counts: a period that was still filling in when a figure
    was recorded is not "revised" when more records arrive, only a complete one is.

    An append-only incremental model with full_refresh false (_indicators__models.yml):
    `--full-refresh` rebuilds every other table but never this one, and dbt's `append`
    strategy writes it the same way on DuckDB and Spark. A figure that disappears keeps its
    last version.
-#}

with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}

),

periods as (

    select * from {{ ref('dim_period') }}

),

figures as (

    select
        indicator_values.indicator_id,
        indicator_values.area_type,
        indicator_values.area_code,
        indicator_values.period_type,
        indicator_values.period_label,
        indicator_values.breakdown,
        indicator_values.units,
        indicator_values.denominator,
        indicator_values.numerator,
        indicator_values.value_pct,
        periods.is_complete

    from indicator_values
    inner join periods
        on
            indicator_values.period_type = periods.period_type
            and indicator_values.period_label = periods.period_label

),

recorded_versions as (

    {% if is_incremental() -%}
    select * from {{ this }}
    {%- else -%}
    -- a first build: no version is recorded yet
    select
        *,
        cast(null as {{ dbt.type_timestamp() }}) as recorded_at
    from figures
    where false
    {%- endif %}

),

ranked_versions as (

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
        is_complete,
        row_number() over (
            partition by indicator_id, area_type, area_code, period_type, period_label, breakdown
            order by recorded_at desc
        ) as recency_rank

    from recorded_versions

),

latest_versions as (

    select * from ranked_versions
    where recency_rank = 1

),

new_versions as (

    select
        figures.indicator_id,
        figures.area_type,
        figures.area_code,
        figures.period_type,
        figures.period_label,
        figures.breakdown,
        figures.units,
        figures.denominator,
        figures.numerator,
        figures.value_pct,
        figures.is_complete,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
            as recorded_at

    from figures
    left join latest_versions
        on
            figures.indicator_id = latest_versions.indicator_id
            and figures.area_type = latest_versions.area_type
            and figures.area_code = latest_versions.area_code
            and figures.period_type = latest_versions.period_type
            and figures.period_label = latest_versions.period_label
            and figures.breakdown = latest_versions.breakdown
    where
        latest_versions.indicator_id is null
        or figures.units is distinct from latest_versions.units
        or figures.denominator is distinct from latest_versions.denominator
        or figures.numerator is distinct from latest_versions.numerator
        or figures.is_complete is distinct from latest_versions.is_complete

)

select * from new_versions
