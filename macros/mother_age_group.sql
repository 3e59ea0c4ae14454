{#-
    The mother's-age breakdown of the indicator spec: under 20 at delivery, 20 and over,
    or unknown (no valid birth date, or a review that does not link to a maternity record).
-#}
{% macro mother_age_group(age_in_years) -%}
    case
        when {{ age_in_years }} < 20 then 'mother_under_20'
        when {{ age_in_years }} >= 20 then 'mother_20_plus'
        else 'age_unknown'
    end
{%- endmacro %}
