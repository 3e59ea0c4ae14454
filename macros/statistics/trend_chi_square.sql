{#-
    Recent trend of a series of proportions, as Fingertips' trend marker computes it for
    "SPC for proportions" (its open-source TrendMarkerCalculator; ../shared/specs/indicators.md
    and docs/methods.md), over points t = 1..k, oldest first:

    1. Significance: the chi-square test for linear trend,
           chi2 = N (N * sum(x_t t) - X * sum(n_t t))^2
                  / (X (N - X) (N * sum(n_t t^2) - (sum(n_t t))^2)),
       with X = sum(x_t), N = sum(n_t), above the critical value (9.5495, i.e. 3.0902^2).
    2. Direction: the least-squares line of logit(x_t / n_t) = ln(x_t / (n_t - x_t)) on t is
       fitted to all k points and again with each point left out in turn (the others keep
       their own t). Only where all k + 1 slopes have the same sign is the trend
       'increasing' or 'decreasing'; otherwise 'no_significant_change'.

    Two choices where the calculator is silent or breaks down (docs/methods.md): a point of
    0% or 100%, whose logit is infinite, takes ln((x + 0.5) / (n - x + 0.5)); and a slope
    within 1e-9 of zero confirms neither direction (the calculator counts zero as rising,
    so a series that is flat without one point would rise but never fall).

    NULL when any point is missing; 'no_significant_change' when X is 0 or N (no variation
    to test). numerators, denominators: lists of SQL expressions (columns), oldest point
    first, of the same length (the marts pass the last 5 points); they are repeated in the
    generated SQL.
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

{#- N * sum(x_t t) - X * sum(n_t t) over all points: the count-weighted slope's sign. -#}
{% macro _trend_slope(numerators, denominators, points) -%}
    {%- set s = _trend_sums(numerators, denominators, points) -%}
    ({{ s.n }} * {{ s.xt }} - {{ s.x }} * {{ s.nt }})
{%- endmacro %}

{#- ln(x / (n - x)), and ln((x + 0.5) / (n - x + 0.5)) at 0% and 100%. -#}
{% macro _trend_logit(numerator, denominator) -%}
    {%- set x = as_double(numerator) -%}
    {%- set n = as_double(denominator) -%}
    ln(case
        when {{ x }} = 0 or {{ x }} = {{ n }} then ({{ x }} + 0.5) / ({{ n }} - {{ x }} + 0.5)
        else {{ x }} / ({{ n }} - {{ x }})
    end)
{%- endmacro %}

{#-
    k * sum(t y_t) - sum(t) * sum(y_t), y = the logit, over the points in `points`: the sign
    of the least-squares slope of y on t (its positive divisor k sum(t^2) - sum(t)^2 left out).
-#}
{% macro _trend_logit_slope(logits, points) -%}
    {%- set ty = [] -%}
    {%- set y = [] -%}
    {%- for i in points -%}
        {%- do ty.append((i + 1) ~ ' * ' ~ logits[i]) -%}
        {%- do y.append(logits[i]) -%}
    {%- endfor -%}
    {%- set sum_t = points | map('int') | sum + points | length -%}
    ({{ points | length }} * ({{ ty | join(' + ') }}) - {{ sum_t }} * ({{ y | join(' + ') }}))
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
    {%- set logits = [] -%}
    {%- for i in all_points -%}
        {%- do logits.append(_trend_logit(numerators[i], denominators[i])) -%}
    {%- endfor -%}
    {#- the full fit, then each point left out -#}
    {%- set slopes = [_trend_logit_slope(logits, all_points)] -%}
    {%- for dropped in all_points -%}
        {%- do slopes.append(_trend_logit_slope(logits, all_points | reject('equalto', dropped) | list)) -%}
    {%- endfor -%}
    case
        when
            {% for expression in numerators + denominators -%}
            {{ expression }} is null{{ ' or ' if not loop.last }}
            {%- endfor %}
            then null
        when not coalesce({{ trend_chi_square_statistic(numerators, denominators) }}
            > {{ critical_value }}, false)
            then 'no_significant_change'
        when
            {% for slope in slopes -%}
            {{ slope }} > 1e-9{{ ' and' if not loop.last }}
            {% endfor %}
            then 'increasing'
        when
            {% for slope in slopes -%}
            {{ slope }} < -1e-9{{ ' and' if not loop.last }}
            {% endfor %}
            then 'decreasing'
        else 'no_significant_change'
    end
{%- endmacro %}
