{#-
    Wilson score confidence limits for a proportion, as percentages (Fingertips method;
    ../shared/specs/indicators.md):

        (2x + z^2 -/+ z * sqrt(z^2 + 4x(1 - x/n))) / (2(n + z^2))

    NULL when the denominator is 0 or NULL (no value, no interval). The closed forms are
    used at the ends, so that x = 0 gives a lower limit of exactly 0 and x = n an upper limit
    of exactly 100, free of rounding error.

    Arguments are SQL expressions; they are repeated in the generated SQL, so pass columns.
-#}

{% macro wilson_lower(numerator, denominator, z) -%}
    {{ return(adapter.dispatch('wilson_score_limit', 'childrens_centres')(
        numerator, denominator, z, 'lower')) }}
{%- endmacro %}

{% macro wilson_upper(numerator, denominator, z) -%}
    {{ return(adapter.dispatch('wilson_score_limit', 'childrens_centres')(
        numerator, denominator, z, 'upper')) }}
{%- endmacro %}

{% macro default__wilson_score_limit(numerator, denominator, z, side) -%}
    {%- if side not in ['lower', 'upper'] -%}
        {{ exceptions.raise_compiler_error("wilson_score_limit: side must be 'lower' or 'upper'") }}
    {%- endif -%}
    {%- set x = as_double(numerator) -%}
    {%- set n = as_double(denominator) -%}
    {%- set zz = as_double(z) -%}
    case
        when {{ denominator }} is null or {{ denominator }} <= 0 or {{ numerator }} is null
            then null
        {% if side == 'lower' -%}
        when {{ numerator }} <= 0 then {{ as_double(0) }}
        {%- else -%}
        when {{ numerator }} >= {{ denominator }} then {{ as_double(100) }}
        {%- endif %}
        else 100 * (
            2 * {{ x }} + {{ zz }} * {{ zz }}
            {{ '-' if side == 'lower' else '+' }} {{ zz }}
            * sqrt({{ zz }} * {{ zz }} + 4 * {{ x }} * (1 - {{ x }} / {{ n }}))
        ) / (2 * ({{ n }} + {{ zz }} * {{ zz }}))
    end
{%- endmacro %}
