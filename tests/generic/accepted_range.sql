{#-
    Fails for each row whose value lies outside [min_value, max_value] (or the open interval
    when inclusive is false). NULL passes: test it with not_null where it matters.
    Returns the offending value and the key columns, never the whole row, so that stored
    failures hold no postcodes or dates of birth.
-#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true, key_columns=[]) %}
{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error("accepted_range needs min_value, max_value or both") }}
{%- endif -%}
{%- set below = '<' if inclusive else '<=' -%}
{%- set above = '>' if inclusive else '>=' -%}

with

checked as (

    select
        {% for key_column in key_columns -%}
        {{ key_column }},
        {% endfor -%}
        {{ column_name }} as value_out_of_range
    from {{ model }}
    where {{ column_name }} is not null

)

select * from checked
where
    {% if min_value is not none -%}
    value_out_of_range {{ below }} {{ min_value }}
    {%- endif %}
    {% if min_value is not none and max_value is not none %}or{% endif %}
    {% if max_value is not none -%}
    value_out_of_range {{ above }} {{ max_value }}
    {%- endif %}

{% endtest %}
