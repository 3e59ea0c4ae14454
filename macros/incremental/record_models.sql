{#-
    Incremental builds of the models kept by record (one row per record of a feed, made from
    that record's latest version and the reference data alone; docs/incremental.md), with
    dbt's own `delete+insert` strategy on the record's key. `make transform` passes the
    newest load the last build took in as the var `loaded_since`: an incremental run then
    recomputes the records with a row loaded after it (every version of them, so that a
    late extract whose rows lose to a newer one leaves the record as it was). A record is
    never removed from a feed, so this leaves the table as a full build would. Without the
    var every record is recomputed; Spark builds these models as tables.
-#}

{#- The config of a model kept by record, called at its top. -#}
{% macro record_model(unique_key) -%}
    {{ config(
        materialized='incremental' if target.type == 'duckdb' else 'table',
        incremental_strategy='delete+insert',
        unique_key=unique_key,
        on_schema_change='fail',
    ) }}
{%- endmacro %}

{#-
    `where` and a condition keeping the records (`key`) with a row in `relation` loaded since
    the var loaded_since, in an incremental run given it; nothing otherwise.
-#}
{% macro where_loaded_since(key, relation) -%}
    {%- set loaded_since = var('loaded_since', none) -%}
    {%- if loaded_since and is_incremental() %}
    where {{ key }} in (
        select {{ key }} from {{ relation }}
        where loaded_at > cast('{{ loaded_since }}' as timestamp)
    )
    {%- endif %}
{%- endmacro %}
