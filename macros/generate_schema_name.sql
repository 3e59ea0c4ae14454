{#-
    Use a custom schema name verbatim instead of dbt's default `<target schema>_<custom>`,
    so that stored test failures land in schema `audit` (not `main_audit`) and every model
    without a custom schema stays in the target schema (`main` on DuckDB).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
