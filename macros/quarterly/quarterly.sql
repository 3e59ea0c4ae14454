{#-
    Quarterly builds: a build that follows the last one on the same project recomputes only
    the periods its data changed (README "Incremental quarters").

    `make transform` sets the environment variable CC_QUARTERLY to true when the project,
    the settings and the dbt options are those of the last successful build and only feed
    extracts (no reference file) were loaded since; every other build (`--force`, a project
    change, a bare `dbt build`) is a full one. An environment variable rather than a var:
    dbt re-parses only the files that read it when it changes, where a change of vars
    re-parses the whole project. Only DuckDB builds quarterly: Spark rebuilds every table in
    full (the models and the results are the same; only the work differs).
-#}

{#- True in a quarterly build: the period models update only the touched periods. -#}
{% macro quarterly_build() -%}
    {{ return(target.type == 'duckdb' and (env_var('CC_QUARTERLY', 'false') | lower) == 'true') }}
{%- endmacro %}

{#-
    The materialization of a model kept by period: incremental (its touched periods replaced)
    in a quarterly build, a table (rebuilt whole) otherwise.
-#}
{% macro period_materialization() -%}
    {{ return('incremental' if quarterly_build() else 'table') }}
{%- endmacro %}

{#-
    The configuration of a model kept by period (its rows replaced period by period): called
    at the top of the model. Incremental with the strategy replace_periods in a quarterly
    build, a table otherwise; in a quarterly build it runs after int_touched_periods, whose
    bounds it reads.
-#}
{% macro period_model() -%}
    {{ config(
        materialized=period_materialization(),
        incremental_strategy='replace_periods',
        on_schema_change='fail',
    ) }}
    {%- if quarterly_build() %}
/* depends_on: {{ ref('int_touched_periods') }} */
    {%- endif %}
{%- endmacro %}

{#-
    The periods a quarterly build recomputes, as a condition on a relation's period_type and
    period_start (prefixed by `relation` when given): with `column` recompute_from, the
    periods starting on or after int_touched_periods.recompute_from; with read_from, as far
    back as their windows read (the trend's 5 points and the year-earlier comparison: 12
    months before it for quarters and rolling years, 48 months for financial and academic
    years); with year_earlier_from, their year-earlier periods (12 months before it). The
    bounds are read when the model runs, once int_touched_periods is built, and written in as
    literals; no touched period gives `false`.
-#}
{% macro touched_periods(column='recompute_from', relation=none) -%}
    {%- set months_back = {
        'recompute_from': '0',
        'read_from': "case when period_type in ('quarter', 'rolling_12m') then -12 else -48 end",
        'year_earlier_from': '-12',
    }[column] -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    {%- set conditions = [] -%}
    {%- if execute -%}
        {%- set bounds = run_query(
            'select period_type, cast(cast(' ~ dbt.dateadd('month', months_back, 'recompute_from')
            ~ ' as date) as ' ~ dbt.type_string() ~ ')'
            ~ ' from ' ~ ref('int_touched_periods') ~ ' order by period_type'
        ) -%}
        {%- for row in bounds.rows -%}
            {%- do conditions.append(
                "(" ~ prefix ~ "period_type = '" ~ row[0] ~ "' and " ~ prefix
                ~ "period_start >= cast('" ~ row[1] ~ "' as date))"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- '(' ~ (conditions | join(' or ') if conditions else 'false') ~ ')' -}}
{%- endmacro %}

{#-
    `where` (or `and`, with `keyword`) and the touched periods' condition in an incremental
    run of a period model; nothing otherwise, so the whole table is built.
-#}
{% macro where_touched_periods(column='recompute_from', keyword='where', relation=none) -%}
    {%- if quarterly_build() and is_incremental() %}
    {{ keyword }} {{ touched_periods(column, relation) }}
    {%- endif %}
{%- endmacro %}

{#-
    Incremental strategy `replace_periods` (DuckDB only, see period_materialization): the rows
    of every touched period are deleted and the new rows of those periods inserted, in one
    transaction. A period left with no rows is emptied, which a merge on a key would not do.
-#}
{% macro get_incremental_replace_periods_sql(arg_dict) -%}
    {%- set target_relation = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target_relation }}
    where {{ touched_periods() }};

    insert into {{ target_relation }} ({{ columns }})
    select {{ columns }} from {{ source }}
{%- endmacro %}
