{#-
    dbt's snapshot staging query (which rows of the snapshot's query are new versions) with
    the snapshot's current rows narrowed, in a quarterly build, to the touched periods, for a
    snapshot configured `touched_periods_only`: its query then selects the touched periods
    only, and no current row of another period can match one of its rows. The snapshot keeps
    the rows it does not compare (hard_deletes 'ignore', which this requires), so the result
    is the same as comparing every current row, and the comparison reads a few periods instead
    of every figure ever recorded.
-#}
{% macro duckdb__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {%- set current_rows = target_relation -%}
    {%- if quarterly_build() and config.get('touched_periods_only') -%}
        {%- if strategy.hard_deletes not in (none, 'ignore') -%}
            {{ exceptions.raise_compiler_error(
                'touched_periods_only needs hard_deletes: ignore (rows outside the touched '
                ~ 'periods are not compared, so they cannot be found deleted)'
            ) }}
        {%- endif -%}
        {%- set current_rows -%}
            (
                select current_rows.*
                from {{ target_relation }} as current_rows
                semi join (
                    select period_type, period_label from {{ ref('dim_period') }}
                    where {{ touched_periods() }}
                ) as touched
                    using (period_type, period_label)
            )
        {%- endset -%}
    {%- endif -%}
    {{ dbt.default__snapshot_staging_table(strategy, source_sql, current_rows) }}
{%- endmacro %}
