{#-
    Incremental builds of the models kept by period (docs/incremental.md), with dbt's own
    `delete+insert` strategy. `make transform` works out once, from the load log, the
    earliest date that the records loaded since the last build can touch, and passes it as
    the var `recompute_from`: an incremental run then recomputes every period ending on or
    after it, and deletes the old rows of those periods first (incremental_predicates). A
    period ending before it holds no changed record, and nothing it reads changed. Without
    the var (a bare `dbt build` on existing tables) every period is recomputed; with
    `--full-refresh` the tables are built anew. Spark builds them as tables.
-#}

{#- The var recompute_from as a date literal, or none. -#}
{% macro recompute_from() -%}
    {%- set value = var('recompute_from', none) -%}
    {{- return("cast('" ~ value ~ "' as date)" if value else none) -}}
{%- endmacro %}

{#- The config of a model kept by period, called at its top. -#}
{% macro period_model() -%}
    {%- set predicates = ['period_end >= ' ~ recompute_from()] if recompute_from() else [] -%}
    {{ config(
        materialized='incremental' if target.type == 'duckdb' else 'table',
        incremental_strategy='delete+insert',
        unique_key='period_type',
        incremental_predicates=predicates,
        on_schema_change='fail',
    ) }}
{%- endmacro %}

{#-
    `where` (or `and`, with `keyword`) and a condition keeping the periods an incremental
    run recomputes (`column` on or after recompute_from, less `months_back` months, for what
    a period's windows read before it); nothing in a full build.
-#}
{% macro where_recomputed(column='period_end', keyword='where', months_back=0) -%}
    {%- if recompute_from() and is_incremental() %}
    {{ keyword }} {{ column }} >= cast({{ dbt.dateadd('month', -months_back, recompute_from()) }} as date)
    {%- endif %}
{%- endmacro %}
