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
    The materialization of a model a quarterly build updates in part (its touched periods or
    its records sent since the last build replaced): incremental in a quarterly build, a table
    (rebuilt whole) otherwise.
-#}
{% macro quarterly_materialization() -%}
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
        materialized=quarterly_materialization(),
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
            ~ ' from ' ~ quarterly_ref('int_touched_periods') ~ ' order by period_type'
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
    Incremental strategy `replace_periods` (DuckDB only, see quarterly_materialization): the rows
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

{#-
    The configuration of a model kept by record (one row per record of a feed, computed from
    that record's latest version and the reference data alone): called at the top of the
    model. Incremental with the strategy delete+insert on `unique_key` in a quarterly build,
    a table otherwise. A record is never removed from a feed (the raw zone keeps every version
    of every record), so replacing the rows of the records sent since the last build leaves
    the table equal to a full rebuild's.
-#}
{% macro record_model(unique_key) -%}
    {{ config(
        materialized=quarterly_materialization(),
        incremental_strategy='delete+insert',
        unique_key=unique_key,
        on_schema_change='fail',
    ) }}
{%- endmacro %}

{#-
    The newest load the last build took in (build_meta.last_build.loaded_until, which the
    transform stores with each build and a quarterly build requires), as a timestamp literal
    read when the model runs: rows with a later loaded_at were loaded since.
-#}
{% macro last_build_loaded_until() -%}
    {%- set loaded_until = none -%}
    {%- if execute -%}
        {%- set result = run_query(
            'select cast(loaded_until as ' ~ dbt.type_string() ~ ') from build_meta.last_build'
        ) -%}
        {%- set loaded_until = result.columns[0].values()[0] if result.rows | length == 1 -%}
        {%- if loaded_until is none -%}
            {{ exceptions.raise_compiler_error(
                'a quarterly build needs the newest load of the last build in '
                ~ 'build_meta.last_build (CC_QUARTERLY is set by `make transform` only)'
            ) }}
        {%- endif -%}
    {%- endif -%}
    cast('{{ loaded_until }}' as timestamp)
{%- endmacro %}

{#-
    `where` (or `and`, with `keyword`) and a condition keeping the records (`key`) that have a
    row in `relation` loaded since the last build, in an incremental run of a record model;
    nothing otherwise, so the whole table is built. `relation` is the feed's raw table or a
    staging model (whose row is a record's latest version: a record whose new rows lost to an
    older version is left as it was).
-#}
{% macro where_records_loaded_since_last_build(key, relation, keyword='where') -%}
    {%- if quarterly_build() and is_incremental() %}
    {{ keyword }} {{ key }} in (
        select {{ key }} from {{ relation }}
        where loaded_at > {{ last_build_loaded_until() }}
    )
    {%- endif %}
{%- endmacro %}

{#-
    The configuration of a model kept by unit (one row or more per birth, delivery, review or
    NCMP measurement, computed from that unit's records and the reference data alone): called
    at the top of the model. Incremental with the strategy replace_units in a quarterly build
    (the rows of the units in int_touched_units deleted, and the units' new rows inserted), a
    table otherwise. Unlike a record, a unit can lose its rows (a delivery left by its only
    baby's corrected record, a birth leaving an indicator's population), which a merge on the
    key of the new rows would not remove.

    unit_type: a SQL expression giving the unit type ('birth', 'delivery', 'review',
               'measurement') of a row of the model's table
    unit_key:  the column holding the unit's key
-#}
{% macro unit_model(unit_type, unit_key) -%}
    {{ config(
        materialized=quarterly_materialization(),
        incremental_strategy='replace_units',
        unit_type=unit_type,
        unit_key=unit_key,
        on_schema_change='fail',
    ) }}
    {%- if quarterly_build() %}
/* depends_on: {{ ref('int_touched_units') }} */
    {%- endif %}
{%- endmacro %}

{#-
    The units of `unit_type` that a quarterly build recomputes, as a condition on `key`
    (int_touched_units). `unit_type` is a SQL expression: a literal such as "'birth'", or an
    expression over the columns of the relation filtered. The key alone is matched first, a
    semi join that leaves few rows; then the pair. (Matching the pair in a correlated
    subquery took three times as long on 20 million rows.)
-#}
{% macro touched_units(unit_type, key) -%}
    {%- set touched = quarterly_ref('int_touched_units') -%}
    (
        {{ key }} in (select touched.unit_id from {{ touched }} as touched)
        and ({{ unit_type }}, {{ key }}) in (
            select touched.unit_type, touched.unit_id from {{ touched }} as touched
        )
    )
{%- endmacro %}

{#-
    `where` (or `and`, with `keyword`) and touched_units in an incremental run of a unit
    model; nothing otherwise, so the whole table is built.
-#}
{% macro where_touched_units(unit_type, key, keyword='where') -%}
    {%- if quarterly_build() and is_incremental() %}
    {{ keyword }} {{ touched_units(unit_type, key) }}
    {%- endif %}
{%- endmacro %}

{#-
    Incremental strategy `replace_units` (DuckDB only, see quarterly_materialization): the
    rows of every touched unit are deleted and the new rows of those units inserted, in one
    transaction. The model's config gives the unit type and key of its rows (unit_model).
-#}
{% macro get_incremental_replace_units_sql(arg_dict) -%}
    {%- set target_relation = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target_relation }}
    where {{ touched_units(config.get('unit_type'), config.get('unit_key')) }};

    insert into {{ target_relation }} ({{ columns }})
    select {{ columns }} from {{ source }}
{%- endmacro %}

{#-
    dbt's get_where_subquery, through which every generic test reads the model it tests (with
    the test's `where` config, as dbt's own). In a quarterly build, a test of error severity
    on a model updated by period or by unit (strategies replace_periods and replace_units)
    reads only the rows the build replaced: the other rows are the ones the last build tested,
    and nothing they are tested against has changed since (a change of reference data, seeds
    or project makes a full build). Tests of warning severity read every row: their stored
    failures are the lists data managers work from.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set severity = (config.get('severity') or 'error') | lower -%}
    {%- if execute and quarterly_build() and severity == 'error' and model.attached_node -%}
        {%- set tested = graph.nodes.get(model.attached_node) -%}
        {%- set strategy = tested.config.incremental_strategy if tested else none -%}
        {%- if tested and tested.config.materialized == 'incremental' -%}
            {%- if strategy == 'replace_periods' -%}
                {%- do conditions.append(touched_periods()) -%}
            {%- elif strategy == 'replace_units' -%}
                {%- do conditions.append(
                    touched_units(tested.config.unit_type, tested.config.unit_key)
                ) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return(
            '(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery'
        ) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#-
    ref() to a model of the quarterly machinery (int_touched_periods, int_touched_units), but
    in a test its relation by name: a test's dependencies are those of the model it tests
    (which, in a quarterly build, depends on these), and dbt refuses a ref() it did not see
    when it parsed the test.
-#}
{% macro quarterly_ref(name) -%}
    {%- if execute and model.resource_type == 'test' -%}
        {{- return(graph.nodes['model.' ~ project_name ~ '.' ~ name].relation_name) -}}
    {%- endif -%}
    {{- return(ref(name)) -}}
{%- endmacro %}
