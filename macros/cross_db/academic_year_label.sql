{#-
    The school (academic) year, September to August, holding a date, labelled `YYYY/YY`
    as in NCMP returns: 2023-09-01 and 2024-08-31 both give '2023/24'.
-#}
{% macro academic_year_label(date_expression) -%}
    {{ return(adapter.dispatch('academic_year_label', 'childrens_centres')(date_expression)) }}
{%- endmacro %}

{% macro default__academic_year_label(date_expression) -%}
    {%- set start_year -%}
        (extract(year from {{ date_expression }})
        - case when extract(month from {{ date_expression }}) < 9 then 1 else 0 end)
    {%- endset -%}
    {{ dbt.concat([
        "cast(" ~ start_year ~ " as " ~ dbt.type_string() ~ ")",
        "'/'",
        dbt.right("cast(" ~ start_year ~ " + 1 as " ~ dbt.type_string() ~ ")", "2"),
    ]) }}
{%- endmacro %}

{#- The first day (1 September) of the academic year labelled `YYYY/YY`. -#}
{% macro academic_year_start(label_expression) -%}
    cast({{ dbt.concat(["substring(" ~ label_expression ~ ", 1, 4)", "'-09-01'"]) }} as date)
{%- endmacro %}
