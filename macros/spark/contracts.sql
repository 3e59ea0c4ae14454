{#-
    Enforced contracts on Spark, for the data types the models' YAML declares for DuckDB.

    1. Spark has no bare `varchar` (it asks for a length), so a declared varchar or text is
       read as Spark's `string`.
    2. Spark's row_number(), rank() and friends return INT where DuckDB returns BIGINT; an
       integer column may therefore be declared wider than Spark computes it (int to
       bigint, not the other way), and is widened when the table is written.
    3. Every column is written as its declared type (dbt-spark writes the query's types
       as they come), so a Spark table has exactly the types of its DuckDB twin.

    Names, the number of columns and every other type must match as dbt requires.
-#}

{% macro spark_contract_type(data_type) -%}
    {%- set normalised = data_type | trim | lower -%}
    {{ return('string' if normalised in ('varchar', 'text', 'character varying') else normalised) }}
{%- endmacro %}

{% macro spark__get_empty_schema_sql(columns) %}
    {%- set translated = {} -%}
    {%- for name, column in columns.items() -%}
        {%- set copy = column.copy() if column is mapping else column -%}
        {%- if column is mapping and column.get('data_type') is not none -%}
            {%- do copy.update({'data_type': spark_contract_type(column['data_type'])}) -%}
        {%- endif -%}
        {%- do translated.update({name: copy}) -%}
    {%- endfor -%}
    {{ return(default__get_empty_schema_sql(translated)) }}
{% endmacro %}

{% macro spark__get_assert_columns_equivalent(sql) -%}
    {%- set widenings = {'bigint': ['int', 'smallint', 'tinyint'], 'int': ['smallint', 'tinyint']} -%}
    {%- set user_defined_columns = model['columns'] -%}
    {%- if not user_defined_columns -%}
        {{ exceptions.raise_contract_error([], []) }}
    {%- endif -%}
    {%- set sql_columns = format_columns(get_column_schema_from_query(sql, config.get('sql_header', none))) -%}
    {%- set yaml_columns = format_columns(get_column_schema_from_query(get_empty_schema_sql(user_defined_columns))) -%}
    {%- if sql_columns | length != yaml_columns | length -%}
        {%- do exceptions.raise_contract_error(yaml_columns, sql_columns) -%}
    {%- endif -%}
    {%- for sql_col in sql_columns -%}
        {%- set matches = yaml_columns | selectattr('name', 'equalto', sql_col['name']) | list -%}
        {%- if not matches -%}
            {%- do exceptions.raise_contract_error(yaml_columns, sql_columns) -%}
        {%- endif -%}
        {%- set declared = matches[0]['data_type'] | lower -%}
        {%- set computed = sql_col['data_type'] | lower -%}
        {%- if computed != declared and computed not in widenings.get(declared, []) -%}
            {%- do exceptions.raise_contract_error(yaml_columns, sql_columns) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{% macro spark__get_select_subquery(sql) %}
    select
    {% for name, column in model['columns'].items() -%}
        {%- set column_name = adapter.quote(column['name']) if column.get('quote') else column['name'] -%}
        cast({{ column_name }} as {{ spark_contract_type(column['data_type']) }}) as {{ column_name }}
        {{- ", " if not loop.last }}
    {% endfor %}
    from (
        {{ sql }}
    ) as model_subq
{%- endmacro %}
