{#-
    Fails for each row where a boolean SQL expression is not true (false or NULL).
    As a column test the expression is appended to the column (expression '>= due_date'
    gives `contact_date >= due_date`) and rows where the column is NULL pass, as with
    accepted_range. Returns key_columns when given, plus the expression text, so stored
    failures never copy personal data out of staging.
-#}
{% test expression_is_true(model, expression, column_name=none, key_columns=[]) %}
{%- set full_expression = (column_name ~ ' ' ~ expression) if column_name else expression -%}

select
    {% for key_column in key_columns -%}
    {{ key_column }},
    {% endfor -%}
    '{{ dbt.escape_single_quotes(full_expression) }}' as failed_expression
from {{ model }}
where
    not coalesce({{ full_expression }}, false)
    {%- if column_name %}
    and {{ column_name }} is not null
    {%- endif %}

{% endtest %}
