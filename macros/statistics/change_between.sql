{#-
    Change between two periods from their 95% confidence intervals
    (../shared/specs/indicators.md): 'changed_up' when the later interval lies wholly above
    the earlier one, 'changed_down' when wholly below, else 'no_change' (intervals that
    overlap or touch). 'not compared' when either interval is missing (e.g. no row a year
    earlier), the same wording as the benchmark comparisons.
-#}
{% macro change_between(lower_now, upper_now, lower_then, upper_then) -%}
    {{ return(adapter.dispatch('change_between', 'childrens_centres')(
        lower_now, upper_now, lower_then, upper_then)) }}
{%- endmacro %}

{% macro default__change_between(lower_now, upper_now, lower_then, upper_then) -%}
    case
        when
            {{ lower_now }} is null or {{ upper_now }} is null
            or {{ lower_then }} is null or {{ upper_then }} is null
            then 'not compared'
        when {{ lower_now }} > {{ upper_then }} then 'changed_up'
        when {{ upper_now }} < {{ lower_then }} then 'changed_down'
        else 'no_change'
    end
{%- endmacro %}
