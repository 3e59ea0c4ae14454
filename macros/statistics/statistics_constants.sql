{#-
    Constants and the numeric type shared by the statistics macros
    (../shared/specs/indicators.md, "Statistics"). One place each, so that every model and
    test uses the same value.
-#}

{#- Normal quantile for a two-sided 95% interval (Fingertips' value). -#}
{% macro z_95() -%}
    1.959963985
{%- endmacro %}

{#- Normal quantile for a two-sided 99.8% interval (Fingertips' value). -#}
{% macro z_998() -%}
    3.090232306
{%- endmacro %}

{#-
    Critical value of the chi-square test for linear trend: 3.0902^2, the 99.8% two-sided
    normal quantile squared, as Fingertips uses for "recent trends".
-#}
{% macro trend_chi_square_critical_value() -%}
    9.5495
{%- endmacro %}

{#- XmR process limits lie this many mean moving ranges from the mean (3 / 1.128). -#}
{% macro xmr_limit_factor() -%}
    2.66
{%- endmacro %}

{#-
    A moving range of this many mean moving ranges or more (D4 = 3.267, the upper limit of a
    moving-range chart) is screened out of the XmR limits, as NHSRplotthedots does by default.
-#}
{% macro xmr_moving_range_screen_factor() -%}
    3.267
{%- endmacro %}

{#-
    An expression as a double-precision number. dbt.type_float() is single precision
    (FLOAT/REAL) on DuckDB and Spark, too coarse for interval limits; `double` is the
    8-byte type on both engines.
-#}
{% macro as_double(expression) -%}
    {{ return(adapter.dispatch('as_double', 'childrens_centres')(expression)) }}
{%- endmacro %}

{% macro default__as_double(expression) -%}
    cast({{ expression }} as double)
{%- endmacro %}

{#-
    The type percentages are stored in by the marts: exact decimals to 6 places (a millionth
    of a percentage point). Rounding once, where a statistic is stored, makes every
    comparison (benchmark inside an interval, funnel limits) reproducible from the published
    figures, and lets unit tests assert the public check values to 1e-6.
-#}
{% macro type_percentage() -%}
    decimal(9, 6)
{%- endmacro %}

{#- A double expression stored as a percentage (rounded to 6 decimal places). -#}
{% macro to_percentage(expression) -%}
    cast({{ expression }} as {{ type_percentage() }})
{%- endmacro %}
