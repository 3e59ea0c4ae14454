{#-
    Remove every whitespace character (spaces, tabs, line breaks) from a text expression.
    DuckDB's regexp_replace replaces only the first match unless given the 'g' flag, while
    Spark's replaces all matches and takes no flags, hence the dispatch.
-#}
{% macro remove_whitespace(text_expression) -%}
    {{ return(adapter.dispatch('remove_whitespace', 'childrens_centres')(text_expression)) }}
{%- endmacro %}

{% macro default__remove_whitespace(text_expression) -%}
    replace(replace(replace(replace({{ text_expression }}, ' ', ''), chr(9), ''), chr(10), ''), chr(13), '')
{%- endmacro %}

{% macro duckdb__remove_whitespace(text_expression) -%}
    regexp_replace({{ text_expression }}, '\s', '', 'g')
{%- endmacro %}

{% macro spark__remove_whitespace(text_expression) -%}
    regexp_replace({{ text_expression }}, '\\s', '')
{%- endmacro %}
