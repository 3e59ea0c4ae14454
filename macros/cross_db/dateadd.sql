{#-
    dbt.dateadd on Spark, with the interval in parentheses.

    dbt-spark 1.11 multiplies the interval as written (`{{ interval }} * 3` for quarters),
    so an expression such as dbt.date_spine's `row_number() over (...) - 1` becomes
    `row_number() - 1 * 3`: the quarter spine stepped by months and the periods were wrong.
    dbt looks for a root-project `spark__dateadd` before the adapter's, so every dbt.dateadd
    (and dbt.date_spine) on Spark comes here; the rest is dbt-spark's own macro.
-#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {{ return(dbt.spark__dateadd(datepart, '(' ~ interval ~ ')', from_date_or_timestamp)) }}
{%- endmacro %}
