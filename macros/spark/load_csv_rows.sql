{#-
    Seeds on Spark with every value written as a literal, instead of dbt-spark's bindings.

    dbt-spark's session method fills the `%s` bindings of its seed inserts by wrapping each
    value in quotes without escaping it, so a value holding a quote ("centre's") breaks the
    statement, and turns an empty cell into the text 'None' and numbers into floats. Here a
    value is NULL when empty, otherwise its text as a quoted, escaped string cast to the
    column's type (seeds/_seeds.yml), which is exact for decimals and dates alike.

    The project's one replacement of an adapter macro: dbt-spark labels the bug won't fix
    (dbt-labs/dbt-spark#901), and the seeds are the councils' to edit, apostrophes and
    empty cells included. Without it the Spark leg's seeds fail or hold 'None'.
-#}
{% macro spark__load_csv_rows(model, agate_table) %}

    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
        {%- do types.append(column_override.get(col_name, inferred_type)) -%}
    {%- endfor -%}

    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                (
                {%- for value in row -%}
                    {%- if value is none -%}
                        cast(null as {{ types[loop.index0] }})
                    {%- else -%}
                        {%- set text = (value | string | lower) if value is boolean else (value | string) -%}
                        cast('{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ types[loop.index0] }})
                    {%- endif -%}
                    {{- ', ' if not loop.last -}}
                {%- endfor -%}
                ){{ ',' if not loop.last }}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}

    {{ return(statements[0]) }}
{% endmacro %}
