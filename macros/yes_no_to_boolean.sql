{#-
    A Y/N flag as a boolean; anything else (the loader has already turned U and blank into
    NULL) stays NULL, i.e. unknown.
-#}
{% macro yes_no_to_boolean(column_name) -%}
    case {{ column_name }}
        when 'Y' then true
        when 'N' then false
    end
{%- endmacro %}
