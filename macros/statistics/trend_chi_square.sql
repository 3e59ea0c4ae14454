{#-
    Chi-square test for linear trend in a series of proportions (Fingertips "recent trend";
    ../shared/specs/indicators.md), over points t = 1..k, oldest first:

        chi2 = N (N * sum(x_t t) - X * sum(n_t t))^2
               / (X (N - X) (N * sum(n_t t^2) - (sum(n_t t))^2))

    with X = sum(x_t), N = sum(n_t). The sign of N * sum(x_t t) - X * sum(n_t t) is the
    direction of the slope. A trend is significant where chi2 exceeds the critical value
    (9.5495, i.e. 3.0902^2) and the slope keeps its sign when any one point is dropped
    (each subset keeps the points' own t); then 'increasing' or 'decreasing', otherwise
    'no_significant_change'. NULL when any point is missing; 'no_significant_change' when
    X is 0 or N (no variation to test).

    numerators, denominators: lists of SQL expressions (columns), oldest point first, of the
    same length (the marts pass the last 5 points). They are repeated in the generated SQL.
-#}

{#- The sums of the formula over the points whose (0-based) index is in `points`. -#}
{% macro _trend_sums(numerators, denominators, points) -%}
    {%- set x = [] -%}
    {%- set n = [] -%}
    {%- set xt = [] -%}
    {%- set nt = [] -%}
    {%- set ntt = [] -%}
    {%- for i in points -%}
        {%- set t = i + 1 -%}
        {%- do x.append(as_double(numerators[i])) -%}
        {%- do n.append(as_double(denominators[i])) -%}
        {%- do xt.append(t ~ ' * ' ~ as_double(numerators[i])) -%}
        {%- do nt.append(t ~ ' * ' ~ as_double(denominators[i])) -%}
        {%- do ntt.append((t * t) ~ ' * ' ~ as_double(denominators[i])) -%}
    {%- endfor -%}
    {{ return({
        'x': '(' ~ x | join(' + ') ~ ')',
        'n': '(' ~ n | join(' + ') ~ ')',
        'xt': '(' ~ xt | join(' + ') ~ ')',
        'nt': '(' ~ nt | join(' + ') ~ ')',
        'ntt': '(' ~ ntt | join(' + ') ~ ')',
    }) }}
{%- endmacro %}

{#- N * sum(x_t t) - X * sum(n_t t) over the points in `points`: its sign is the slope's. -#}
{% macro _trend_slope(numerators, denominators, points) -%}
    {%- set s = _trend_sums(numerators, denominators, points) -%}
    ({{ s.n }} * {{ s.xt }} - {{ s.x }} * {{ s.nt }})
{%- endmacro %}

{#- The chi-square statistic itself (NULL where X is 0 or N). -#}
{% macro trend_chi_square_statistic(numerators, denominators) -%}
    {{ return(adapter.dispatch('trend_chi_square_statistic', 'childrens_centres')(
        numerators, denominators)) }}
{%- endmacro %}

{% macro default__trend_chi_square_statistic(numerators, denominators) -%}
    {%- set all_points = range(numerators | length) | list -%}
    {%- set s = _trend_sums(numerators, denominators, all_points) -%}
    {%- set slope = _trend_slope(numerators, denominators, all_points) -%}
    ({{ s.n }} * {{ slope }} * {{ slope }} / nullif(
        {{ s.x }} * ({{ s.n }} - {{ s.x }}) * ({{ s.n }} * {{ s.ntt }} - {{ s.nt }} * {{ s.nt }}),
        0
    ))
{%- endmacro %}

{#- The trend: 'increasing', 'decreasing', 'no_significant_change', or NULL. -#}
{% macro trend_chi_square(numerators, denominators, critical_value=none) -%}
    {{ return(adapter.dispatch('trend_chi_square', 'childrens_centres')(
        numerators, denominators, critical_value)) }}
{%- endmacro %}

{% macro default__trend_chi_square(numerators, denominators, critical_value=none) -%}
    {%- if numerators | length != denominators | length or numerators | length < 3 -%}
        {{ exceptions.raise_compiler_error(
            "trend_chi_square: give as many numerators as denominators, at least 3") }}
    {%- endif -%}
    {%- set critical_value = critical_value
        if critical_value is not none else trend_chi_square_critical_value() -%}
    {%- set all_points = range(numerators | length) | list -%}
    {%- set chi_square = trend_chi_square_statistic(numerators, denominators) -%}
    {%- set slope = _trend_slope(numerators, denominators, all_points) -%}
    {%- set drop_one_slopes = [] -%}
    {%- for dropped in all_points -%}
        {%- set kept = all_points | reject('equalto', dropped) | list -%}
        {%- do drop_one_slopes.append(_trend_slope(numerators, denominators, kept)) -%}
    {%- endfor -%}
    case
        when
            {% for expression in numerators + denominators -%}
            {{ expression }} is null{{ ' or ' if not loop.last }}
            {%- endfor %}
            then null
        when
            coalesce({{ chi_square }} > {{ critical_value }}, false)
            and {{ slope }} > 0
            {% for drop_one_slope in drop_one_slopes -%}
            and {{ drop_one_slope }} > 0
            {% endfor %}
            then 'increasing'
        when
            coalesce({{ chi_square }} > {{ critical_value }}, false)
            and {{ slope }} < 0
            {% for drop_one_slope in drop_one_slopes -%}
            and {{ drop_one_slope }} < 0
            {% endfor %}
            then 'decreasing'
        else 'no_significant_change'
    end
{%- endmacro %}
