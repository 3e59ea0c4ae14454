{#-
    A funnel-plot control limit for comparing areas in one period
    (../shared/specs/indicators.md): p0 +/- z * sqrt(p0 (1 - p0) / n), as a percentage
    clipped to [0, 100].

    p0:   the target proportion as a FRACTION (0-1), e.g. sum(x) / sum(n) over the centres
    n:    the area's denominator (the funnel's x axis); NULL when 0 or NULL
    z:    1.959963985 for 95%, 3.090232306 for 99.8% (z_95(), z_998())
    side: 'lower' or 'upper' (text, fixed when the SQL is compiled)
-#}
{% macro funnel_limit(p0, n, z, side) -%}
    {{ return(adapter.dispatch('funnel_limit', 'childrens_centres')(p0, n, z, side)) }}
{%- endmacro %}

{% macro default__funnel_limit(p0, n, z, side) -%}
    {%- if side not in ['lower', 'upper'] -%}
        {{ exceptions.raise_compiler_error("funnel_limit: side must be 'lower' or 'upper'") }}
    {%- endif -%}
    {%- set limit -%}
        100 * ({{ as_double(p0) }} {{ '-' if side == 'lower' else '+' }} {{ as_double(z) }}
        * sqrt({{ as_double(p0) }} * (1 - {{ as_double(p0) }}) / {{ as_double(n) }}))
    {%- endset -%}
    case
        when {{ n }} is null or {{ n }} <= 0 or {{ p0 }} is null then null
        when {{ limit }} < 0 then {{ as_double(0) }}
        when {{ limit }} > 100 then {{ as_double(100) }}
        else {{ limit }}
    end
{%- endmacro %}
