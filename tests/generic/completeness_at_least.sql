{#-
    Completeness of a return, per group: fails (or warns, with severity warn) for every
    group whose recorded / expected is below threshold_pct percent, and returns the group's
    columns with expected, recorded, completeness_pct and threshold_pct, so that stored
    failures name the areas and periods a data manager should chase.

    Two ways to say what is expected and recorded:
    - a model that already counts them (e.g. fct_return_completeness): pass
      expected='expected', recorded='recorded' (any SQL expressions, summed per group);
    - a row-level model: attach the test to a column; each row is expected once and is
      recorded when the column is not NULL (recorded_if='not_null', the default) or, for a
      boolean column, when it is true (recorded_if='true').

    group_by:      list of columns (omit for the whole model as one group)
    threshold_pct: percentage a group must reach (default 95)
    min_expected:  groups expecting fewer are not judged (default 1: skip empty groups)
-#}
{% test completeness_at_least(
    model,
    column_name=none,
    group_by=[],
    threshold_pct=95,
    expected=none,
    recorded=none,
    recorded_if='not_null',
    min_expected=1
) %}
{%- if recorded is none -%}
    {%- if column_name is none -%}
        {{ exceptions.raise_compiler_error(
            "completeness_at_least needs `recorded` (with `expected`) or a column") }}
    {%- elif recorded_if == 'true' -%}
        {%- set recorded = 'case when ' ~ column_name ~ ' then 1 else 0 end' -%}
    {%- elif recorded_if == 'not_null' -%}
        {%- set recorded = 'case when ' ~ column_name ~ ' is not null then 1 else 0 end' -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "completeness_at_least: recorded_if must be 'not_null' or 'true'") }}
    {%- endif -%}
{%- endif -%}
{%- set expected = expected if expected is not none else '1' -%}

with

counted as (

    select
        {% for group_column in group_by -%}
        {{ group_column }},
        {% endfor -%}
        sum({{ expected }}) as expected,
        sum({{ recorded }}) as recorded
    from {{ model }}
    {% if group_by | length > 0 -%}
    group by {{ group_by | join(', ') }}
    {%- endif %}

),

judged as (

    select
        {% for group_column in group_by -%}
        {{ group_column }},
        {% endfor -%}
        expected,
        recorded,
        round(100.0 * recorded / expected, 1) as completeness_pct,
        {{ threshold_pct }} as threshold_pct
    from counted
    where
        expected >= {{ min_expected }}
        and expected > 0
        -- compared unrounded: 94.96% is below a 95% target
        and 100.0 * recorded < {{ threshold_pct }} * expected

)

select * from judged

{% endtest %}
