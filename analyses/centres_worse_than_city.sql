{#-
    A starting point for analysts: in the latest rolling 12 months, which centre areas are
    significantly worse than their city on each indicator, with the gap in percentage
    points and how complete the underlying records were. Compile with `dbt compile` and run
    the SQL in target/compiled/ against the warehouse or its published copy.
-#}

with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}

),

latest_rolling_period as (

    select max(period_end) as period_end
    from indicator_values
    where period_type = 'rolling_12m'

),

worse_than_city as (

    select
        indicator_values.indicator_id,
        indicator_values.area_code,
        indicator_values.area_name,
        indicator_values.period_label,
        indicator_values.value_pct,
        indicator_values.la_value_pct,
        indicator_values.value_pct - indicator_values.la_value_pct as gap_points,
        indicator_values.coverage_pct

    from indicator_values
    inner join latest_rolling_period
        on indicator_values.period_end = latest_rolling_period.period_end
    where
        indicator_values.period_type = 'rolling_12m'
        and indicator_values.area_type = 'centre'
        and indicator_values.breakdown = 'all'
        and indicator_values.vs_la = 'worse'

)

select * from worse_than_city
order by indicator_id asc, gap_points desc
