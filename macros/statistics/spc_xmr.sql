{#-
    Statistical process control, XmR chart (NHS "Making Data Count";
    ../shared/specs/indicators.md): process limits at mean +/- 2.66 * mean moving range,
    and the window expressions the special-cause rules are built from. A rule such as
    "7 points in a row above the mean" is found in two steps, because window functions
    cannot nest: xmr_window_count() counts the points meeting a condition in the window of
    `points` points ending at each point (one CTE), then xmr_in_flagged_window() marks every
    point that lies in such a window (the next CTE). Window frames are ROWS frames, standard
    SQL that DuckDB and Spark share.
-#}

{#- Upper or lower process limit: mean +/- 2.66 * mean moving range. -#}
{% macro xmr_process_limit(mean, mean_moving_range, side) -%}
    {{ return(adapter.dispatch('xmr_process_limit', 'childrens_centres')(
        mean, mean_moving_range, side)) }}
{%- endmacro %}

{% macro default__xmr_process_limit(mean, mean_moving_range, side) -%}
    {%- if side not in ['lower', 'upper'] -%}
        {{ exceptions.raise_compiler_error("xmr_process_limit: side must be 'lower' or 'upper'") }}
    {%- endif -%}
    ({{ mean }} {{ '-' if side == 'lower' else '+' }} {{ xmr_limit_factor() }}
        * {{ mean_moving_range }})
{%- endmacro %}

{#-
    Where "two thirds of the way to a limit" lies: mean +/- (2/3) * 2.66 * mean moving
    range. A point beyond it, but not beyond the limit itself, counts for the 2-of-3 rule
    (NHSRplotthedots' "close to limits").
-#}
{% macro xmr_near_limit(mean, mean_moving_range, side) -%}
    {{ return(adapter.dispatch('xmr_near_limit', 'childrens_centres')(
        mean, mean_moving_range, side)) }}
{%- endmacro %}

{% macro default__xmr_near_limit(mean, mean_moving_range, side) -%}
    {%- if side not in ['lower', 'upper'] -%}
        {{ exceptions.raise_compiler_error("xmr_near_limit: side must be 'lower' or 'upper'") }}
    {%- endif -%}
    ({{ mean }} {{ '-' if side == 'lower' else '+' }} 2.0 / 3.0 * {{ xmr_limit_factor() }}
        * {{ mean_moving_range }})
{%- endmacro %}

{#-
    How many of the `points` points ending at this one (fewer at the start of a series)
    meet `condition` (a boolean SQL expression; NULL counts as not met).
-#}
{% macro xmr_window_count(condition, partition_by, order_by, points) -%}
    {{ return(adapter.dispatch('xmr_window_count', 'childrens_centres')(
        condition, partition_by, order_by, points)) }}
{%- endmacro %}

{% macro default__xmr_window_count(condition, partition_by, order_by, points) -%}
    sum(case when {{ condition }} then 1 else 0 end) over (
        partition by {{ partition_by }}
        order by {{ order_by }}
        rows between {{ points - 1 }} preceding and current row
    )
{%- endmacro %}

{#-
    True when this point lies in a window of `points` consecutive points that met a rule,
    i.e. when `window_flag` (a boolean expression, true at the window's last point) is true
    at this point or at any of the next `points` - 1 points.
-#}
{% macro xmr_in_flagged_window(window_flag, partition_by, order_by, points) -%}
    {{ return(adapter.dispatch('xmr_in_flagged_window', 'childrens_centres')(
        window_flag, partition_by, order_by, points)) }}
{%- endmacro %}

{% macro default__xmr_in_flagged_window(window_flag, partition_by, order_by, points) -%}
    (max(case when {{ window_flag }} then 1 else 0 end) over (
        partition by {{ partition_by }}
        order by {{ order_by }}
        rows between current row and {{ points - 1 }} following
    ) = 1)
{%- endmacro %}
