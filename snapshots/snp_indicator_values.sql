{#-
    Every version of every indicator figure, one row per change: the memory that lets the
    marts say a published figure was revised (fct_indicator_revisions). A later extract may
    correct records of an old period ("Extracts are windows, not snapshots"), which restates
    that period's counts; dbt's check strategy records the new counts beside the old ones.

    is_complete is kept with the counts: a period that was still filling in when a figure
    was recorded is not "revised" when more records arrive, only a complete one is.
-#}

{% snapshot snp_indicator_values %}

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

)

select * from figures

{% endsnapshot %}
