{#-
    Compares a value's 95% confidence interval with a benchmark (Fingertips method;
    ../shared/specs/indicators.md): 'similar' where lower <= benchmark <= upper (the ends
    count as inside), else 'higher' or 'lower' than the benchmark, worded 'better' or
    'worse' where the indicator has a polarity ('high_is_good', 'low_is_good'); any other
    polarity, e.g. 'no_judgement', keeps 'higher' / 'lower'. 'not compared' where the value
    (either limit) or the benchmark is NULL.

    Suppression (e.g. low coverage) is the caller's rule: wrap the call in a case.
-#}
{% macro compare_with_benchmark(lower, upper, benchmark, polarity) -%}
    {{ return(adapter.dispatch('compare_with_benchmark', 'childrens_centres')(
        lower, upper, benchmark, polarity)) }}
{%- endmacro %}

{% macro default__compare_with_benchmark(lower, upper, benchmark, polarity) -%}
    case
        when {{ lower }} is null or {{ upper }} is null or {{ benchmark }} is null
            then 'not compared'
        when {{ benchmark }} >= {{ lower }} and {{ benchmark }} <= {{ upper }} then 'similar'
        when {{ lower }} > {{ benchmark }}
            then
                case {{ polarity }}
                    when 'high_is_good' then 'better'
                    when 'low_is_good' then 'worse'
                    else 'higher'
                end
        else
            case {{ polarity }}
                when 'high_is_good' then 'worse'
                when 'low_is_good' then 'better'
                else 'lower'
            end
    end
{%- endmacro %}
