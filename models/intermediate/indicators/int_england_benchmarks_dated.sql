{#-
    Published England values (seed england_benchmarks) with the first day of the period
    each describes, so that a local period can be matched to the latest England value
    published for a period starting on or before it. Financial years start on 1 April,
    calendar years on 1 January, academic (school) years on 1 September.
-#}

with

benchmarks as (

    select * from {{ ref('england_benchmarks') }}

),

dated as (

    select
        indicator_id,
        period_type,
        period_label,
        cast(
            {{ dbt.concat([
                "substring(period_label, 1, 4)",
                "case period_type"
                ~ " when 'financial_year' then '-04-01'"
                ~ " when 'calendar_year' then '-01-01'"
                ~ " when 'academic_year' then '-09-01'"
                ~ " end",
            ]) }}
            as date
        ) as period_start,
        numerator,
        denominator,
        {{ to_percentage('value_pct') }} as value_pct,
        source

    from benchmarks

)

select * from dated
