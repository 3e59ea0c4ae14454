{#-
    Completed years between two dates: an age in whole years, as a person states it.
    dbt.datediff(..., 'year') counts calendar-year boundaries instead (a baby born on
    31 December would be "1" the next day), so the birthday is compared explicitly.
    Someone born on 29 February turns a year older on 1 March in a non-leap year.
    `extract(... from ...)` is standard SQL and runs unchanged on DuckDB and Spark.
-#}
{% macro whole_years_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('whole_years_between', 'childrens_centres')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__whole_years_between(start_date, end_date) -%}
    (
        extract(year from {{ end_date }}) - extract(year from {{ start_date }})
        - case
            when
                extract(month from {{ end_date }}) * 100 + extract(day from {{ end_date }})
                < extract(month from {{ start_date }}) * 100 + extract(day from {{ start_date }})
                then 1
            else 0
        end
    )
{%- endmacro %}
