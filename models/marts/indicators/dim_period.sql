{#-
    Every reporting period (int_periods_enumerated), with its order within its type for sorting.
-#}

with

periods as (

    select * from {{ ref('int_periods_enumerated') }}

),

ordered as (

    select
        period_type,
        period_label,
        period_start,
        period_end,
        -- row_number() is BIGINT on DuckDB and INT on Spark: one type for the contract
        cast(
            row_number() over (partition by period_type order by period_start)
            as {{ dbt.type_bigint() }}
        ) as period_order,
        is_complete

    from periods

)

select * from ordered
