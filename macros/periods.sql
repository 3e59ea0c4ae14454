{#-
    Financial-year periods (April to March), labelled as the spec does: '2023/24' for the
    year, '2023/24 Q1' for April to June 2023.
-#}
{% macro financial_year_start(date_expression) -%}
    (extract(year from {{ date_expression }})
    - case when extract(month from {{ date_expression }}) < 4 then 1 else 0 end)
{%- endmacro %}

{% macro financial_year_label(date_expression) -%}
    {%- set start_year = financial_year_start(date_expression) -%}
    {{ dbt.concat([
        "cast(" ~ start_year ~ " as " ~ dbt.type_string() ~ ")",
        "'/'",
        dbt.right("cast(" ~ start_year ~ " + 1 as " ~ dbt.type_string() ~ ")", "2"),
    ]) }}
{%- endmacro %}

{% macro financial_quarter_label(date_expression) -%}
    {%- set quarter_number -%}
        cast(cast(floor(((extract(month from {{ date_expression }}) + 8) % 12) / 3) + 1
            as {{ dbt.type_int() }}) as {{ dbt.type_string() }})
    {%- endset -%}
    {{ dbt.concat([financial_year_label(date_expression), "' Q'", quarter_number]) }}
{%- endmacro %}

{#-
    The period a return item (int_return_items_checked) counts in, as the select-list columns
    period_label and period_start: its financial quarter, or its NCMP academic year.
-#}
{% macro return_item_period() -%}
    coalesce(academic_year, {{ financial_quarter_label('event_date') }}) as period_label,
    coalesce(
        cast({{ dbt.date_trunc('quarter', 'event_date') }} as date),
        {{ academic_year_start('academic_year') }}
    ) as period_start
{%- endmacro %}
