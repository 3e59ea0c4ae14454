{#-
    Child BMI centiles by the LMS method (Cole & Green 1992), as the NCMP classifies them
    against the UK90 reference (../shared/specs/indicators.md). Plain SQL arithmetic with
    ln, exp, power and abs only, so the default implementations run on DuckDB and Spark;
    each macro dispatches so that an engine can override it.

    Arguments are SQL expressions. They are repeated in the generated SQL, so pass column
    names (compute the inputs in an earlier CTE) rather than long expressions.
-#}


{#-
    The LMS z-score of a measurement: ((value / M)^L - 1) / (L * S), and its limit
    ln(value / M) / S when L = 0. `value` and `m` must be positive: guard the call (e.g.
    `case when <valid> then ... end`) for rows where they may not be.
-#}
{% macro lms_z(value, l, m, s) -%}
    {{ return(adapter.dispatch('lms_z', 'childrens_centres')(value, l, m, s)) }}
{%- endmacro %}

{% macro default__lms_z(value, l, m, s) -%}
    case
        when {{ l }} = 0 then ln({{ value }} / {{ m }}) / {{ s }}
        else (power({{ value }} / {{ m }}, {{ l }}) - 1) / ({{ l }} * {{ s }})
    end
{%- endmacro %}


{#-
    Phi(z), the standard normal cumulative distribution function, as a fraction (0-1).

    Phi(z) = erfc(-z / sqrt 2) / 2, with erfc from Numerical Recipes' `erfcc` (Press et al.,
    Numerical Recipes in C, 2nd ed., section 6.2: a Chebyshev fit whose fractional error is
    below 1.2e-7 for every argument). Both tails use the fit at |z|, so the result is within
    6e-8 of Phi(z) in absolute terms (6e-6 centile points; 4.2e-8 measured against scipy
    over z = -8..8) and within a relative 1.2e-7 in the far lower tail.
    tests/python/test_uk90.py checks the built model against scipy.
    Neither engine has erf or a normal CDF built in (Spark lacks both), hence the fit.
-#}
{% macro normal_cdf(z) -%}
    {{ return(adapter.dispatch('normal_cdf', 'childrens_centres')(z)) }}
{%- endmacro %}

{% macro default__normal_cdf(z) -%}
    {#- t = 1 / (1 + |x| / 2) with x = z / sqrt 2; 0.35355339059327376 = 1 / (2 sqrt 2) -#}
    {%- set t = "(1.0 / (1.0 + 0.35355339059327376 * abs(" ~ z ~ ")))" -%}
    {#- one tail: erfc(|z| / sqrt 2) / 2 -#}
    {%- set tail -%}
        (0.5 * {{ t }} * exp(
            -0.5 * {{ z }} * {{ z }} - 1.26551223 + {{ t }} * (1.00002368 + {{ t }} * (
            0.37409196 + {{ t }} * (0.09678418 + {{ t }} * (-0.18628806 + {{ t }} * (
            0.27886807 + {{ t }} * (-1.13520398 + {{ t }} * (1.48851587 + {{ t }} * (
            -0.82215223 + {{ t }} * 0.17087277))))))))
        ))
    {%- endset -%}
    case
        when {{ z }} >= 0 then 1.0 - {{ tail }}
        else {{ tail }}
    end
{%- endmacro %}


{#-
    The z-score at a BMI centile threshold for population monitoring (NCMP, the national
    child measurement programme): the exact standard normal quantile, so that children are
    classified by z and never by a rounded centile. Double literals (with an exponent) so
    that no engine reads them as short decimals.

        threshold          centile   z
        underweight        2nd       -2.0537489106318231
        overweight         85th       1.0364333894937896
        obese              95th       1.6448536269514727
        severely_obese     99.6th     2.6520698079021960
-#}
{% macro bmi_threshold_z(threshold) -%}
    {%- set thresholds = {
        'underweight': '-2.0537489106318231e0',
        'overweight': '1.0364333894937896e0',
        'obese': '1.6448536269514727e0',
        'severely_obese': '2.6520698079021960e0',
    } -%}
    {%- if threshold not in thresholds -%}
        {{ exceptions.raise_compiler_error(
            "bmi_threshold_z: unknown threshold '" ~ threshold ~ "', expected one of "
            ~ (thresholds.keys() | list | join(', '))) }}
    {%- endif -%}
    {{ return(thresholds[threshold]) }}
{%- endmacro %}


{#-
    The population-monitoring BMI category of a BMI z-score (NULL stays NULL):
    `underweight` at or below the 2nd centile, `healthy_weight` above the 2nd and below the
    85th, `overweight` from the 85th to below the 95th, `obese` at or above the 95th.
    Severe obesity (99.6th and above) is a subset of obese: test it with
    `z >= {{ bmi_threshold_z('severely_obese') }}`.
-#}
{% macro bmi_category(z) -%}
    {{ return(adapter.dispatch('bmi_category', 'childrens_centres')(z)) }}
{%- endmacro %}

{% macro default__bmi_category(z) -%}
    case
        when {{ z }} <= {{ bmi_threshold_z('underweight') }} then 'underweight'
        when {{ z }} < {{ bmi_threshold_z('overweight') }} then 'healthy_weight'
        when {{ z }} < {{ bmi_threshold_z('obese') }} then 'overweight'
        when {{ z }} >= {{ bmi_threshold_z('obese') }} then 'obese'
    end
{%- endmacro %}
