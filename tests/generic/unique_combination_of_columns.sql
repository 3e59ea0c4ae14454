{#-
    Fails for each combination of the listed columns that occurs more than once: a compound
    primary key. Returns the combination and how many rows share it.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set column_list = combination_of_columns | join(', ') -%}

select
    {{ column_list }},
    count(*) as n_records
from {{ model }}
group by {{ column_list }}
having count(*) > 1

{% endtest %}
