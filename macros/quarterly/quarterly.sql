{#-
    Quarterly builds: a build that follows the last one on the same project recomputes only
    the periods its data changed (docs/incremental.md).

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

    also_replace: a SQL condition on the model's table: its rows outside the touched periods
                  that a quarterly build replaces too (the model then selects their new rows)
-#}
{% macro period_model(also_replace=none) -%}
    {{ config(
        materialized=quarterly_materialization(),
        incremental_strategy='replace_periods',
        also_replace=also_replace,
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
    The body of the replace strategies (replace_periods, replace_units, replace_quarters;
    DuckDB only, see quarterly_materialization): the rows of the target matching `condition`
    are deleted and the new rows inserted, in one transaction. Whatever the condition matches
    and the new rows do not hold is emptied, which a merge on a key would keep.
-#}
{% macro replace_rows_sql(arg_dict, condition) -%}
    {%- set target_relation = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- if config.get('published') %}
    {{ record_mart_change(target_relation, condition) }}
    {%- endif %}
    delete from {{ target_relation }}
    where {{ condition }};

    insert into {{ target_relation }} ({{ columns }})
    select {{ columns }} from {{ source }}
{%- endmacro %}

{#-
    A quarterly build's record of what it replaced in the published marts (config
    `published`, dbt_project.yml), from which `make transform` updates the previous published
    copy in place instead of copying every mart again (scripts/cc_warehouse/publish.py): the
    condition of the rows deleted, in mart_changes.replaced. The new rows are the mart's rows
    matching it (publish.py checks that they are all of them). Every build starts with an
    empty record (macro start_mart_changes).
-#}
{% macro record_mart_change(target_relation, condition) -%}
    {%- set replaced = api.Relation.create(
        database=target_relation.database, schema='mart_changes', identifier='replaced'
    ) -%}
    insert into {{ replaced }}
    values ('{{ target_relation.identifier }}', '{{ condition | replace("'", "''") }}');
{%- endmacro %}

{#-
    on-run-start (dbt_project.yml): a DuckDB `dbt build` or `dbt run` empties the record of
    mart changes (macro record_mart_change), so that it holds this build's changes only.
    Other commands (`dbt source freshness`, `dbt test`) leave it to the build before them.
-#}
{% macro start_mart_changes() -%}
    {%- if target.type != 'duckdb' or flags.WHICH not in ('build', 'run') -%}
        {{ return('') }}
    {%- endif -%}
    drop schema if exists {{ target.database }}.mart_changes cascade;
    create schema {{ target.database }}.mart_changes;
    create table {{ target.database }}.mart_changes.replaced (
        model_name {{ dbt.type_string() }},
        replaced_where {{ dbt.type_string() }}
    )
{%- endmacro %}

{#-
    Incremental strategy `replace_periods`: the rows of the touched periods are replaced, and
    the rows the model's config also_replace matches (period_model).
-#}
{% macro get_incremental_replace_periods_sql(arg_dict) -%}
    {%- set also_replace = config.get('also_replace') -%}
    {{ replace_rows_sql(
        arg_dict, touched_periods() ~ (' or (' ~ also_replace ~ ')' if also_replace else '')
    ) }}
{%- endmacro %}

{#-
    The configuration of a model kept by record (one row per record of a feed, computed from
    that record's latest version and the reference data alone): called at the top of the
    model. Incremental with the strategy delete+insert on `unique_key` in a quarterly build,
    a table otherwise. A record is never removed from a feed (the raw zone keeps every version
    of every record), so replacing the rows of the records sent since the last build leaves
    the table equal to a full rebuild's.

    unique_key: the record's key column
    loaded_in:  where the records loaded since are found (where_records_loaded_since_last_build):
                ['<model>'], a staging model (whose row is a record's latest version: a record
                whose new rows lost to an older version is left as it was), or ['<source>',
                '<table>'], the feed's raw table
-#}
{% macro record_model(unique_key, loaded_in) -%}
    {{ config(
        materialized=quarterly_materialization(),
        incremental_strategy='delete+insert',
        unique_key=unique_key,
        records_loaded_in=loaded_in,
        on_schema_change='fail',
    ) }}
    {%- do records_relation(loaded_in) -%} {#- the model depends on it -#}
{%- endmacro %}

{#-
    The relation of a record model's loaded_in (record_model): ref() or source() in a model,
    and in a test its name from the graph (a test may not ref() what its model reads).
-#}
{% macro records_relation(loaded_in) -%}
    {%- if execute and model.resource_type == 'test' -%}
        {%- set node = graph.nodes['model.' ~ project_name ~ '.' ~ loaded_in[0]]
            if loaded_in | length == 1
            else graph.sources['source.' ~ project_name ~ '.' ~ loaded_in | join('.')] -%}
        {{- return(node.relation_name) -}}
    {%- endif -%}
    {{- return(
        ref(loaded_in[0]) if loaded_in | length == 1 else source(loaded_in[0], loaded_in[1])
    ) -}}
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
    The records (the `key` column) with a row in `loaded_in` (as for record_model) loaded since
    the last build, as a condition.
-#}
{% macro records_loaded_since_last_build(key, loaded_in) -%}
    {{ key }} in (
        select {{ key }} from {{ records_relation(loaded_in) }}
        where loaded_at > {{ last_build_loaded_until() }}
    )
{%- endmacro %}

{#-
    `where` (or `and`, with `keyword`) and records_loaded_since_last_build on the record
    model's unique_key and loaded_in (record_model) in an incremental run; nothing otherwise,
    so the whole table is built.
-#}
{% macro where_records_loaded_since_last_build(keyword='where') -%}
    {%- if quarterly_build() and is_incremental() %}
    {{ keyword }} {{ records_loaded_since_last_build(
        config.get('unique_key'), config.get('records_loaded_in')
    ) }}
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

    unit_type:     a SQL expression giving the unit type ('birth', 'delivery', 'review',
                   'measurement') of a row of the model's table
    unit_key:      the column holding the unit's key
    keep_replaced: keep the rows a quarterly build replaces in the table `<model>__replaced`
                   (macro replaced_rows), and the rows that replace them in
                   `<model>__inserted` (inserted_rows), until the next build, for the models
                   that count what changed (int_touched_quarters) and the tests; any other
                   build drops those tables
-#}
{% macro unit_model(unit_type, unit_key, keep_replaced=false) -%}
    {%- set pre_hook = [] -%}
    {%- if keep_replaced and target.type == 'duckdb' -%}
        {%- for kept in ['__replaced', '__inserted'] -%}
            {%- do pre_hook.append(
                "{% if not is_incremental() %}drop table if exists "
                ~ "{{ this.incorporate(path={'identifier': this.identifier ~ '" ~ kept ~ "'}) }}"
                ~ "{% endif %}"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ config(
        materialized=quarterly_materialization(),
        incremental_strategy='replace_units',
        unit_type=unit_type,
        unit_key=unit_key,
        keep_replaced=keep_replaced,
        pre_hook=pre_hook,
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
    Incremental strategy `replace_units`: the rows of the touched units are replaced. The
    model's config gives the unit type and key of its rows (unit_model); with keep_replaced,
    the rows deleted are first copied to `<model>__replaced`, and the new rows to
    `<model>__inserted`.
-#}
{% macro get_incremental_replace_units_sql(arg_dict) -%}
    {%- set target_relation = arg_dict['target_relation'] -%}
    {%- set condition = touched_units(config.get('unit_type'), config.get('unit_key')) -%}
    {%- if config.get('keep_replaced') %}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) %}
    create or replace table {{ replaced_rows(target_relation) }} as
    select * from {{ target_relation }}
    where {{ condition }};

    create or replace table {{ inserted_rows(target_relation) }} as
    select {{ columns }} from {{ arg_dict['temp_relation'] }};
    {% endif %}
    {{ replace_rows_sql(arg_dict, condition) }}
{%- endmacro %}

{#-
    The table of the rows the last quarterly build replaced in the unit model `relation`
    (unit_model with keep_replaced): `<model>__replaced`.
-#}
{% macro replaced_rows(relation) -%}
    {{- return(relation.incorporate(path={'identifier': relation.identifier ~ '__replaced'})) -}}
{%- endmacro %}

{#-
    The table of the rows that replaced those in replaced_rows, in the last quarterly build of
    the unit model `relation` (unit_model with keep_replaced): `<model>__inserted`. They are
    the model's rows of the touched units, kept apart so that what reads them (int_touched_quarters,
    the model's tests) need not find them among all the others.
-#}
{% macro inserted_rows(relation) -%}
    {{- return(relation.incorporate(path={'identifier': relation.identifier ~ '__inserted'})) -}}
{%- endmacro %}

{#-
    The configuration of a model kept by quarter (counts of a quarter, or of an NCMP academic
    year): called at the top of the model. Incremental with the strategy replace_quarters in
    a quarterly build (the rows of the quarters in int_touched_quarters whose `counts` changed
    are replaced), a table otherwise.

    counts:        which counts the model holds ('indicator_cells', 'return_completeness'),
                   as in int_touched_quarters
    quarter:       SQL expression of a row's quarter start (NULL for an academic year's row)
    academic_year: SQL expression of a row's NCMP academic year (NULL for a quarter's row)
-#}
{% macro quarter_model(counts, quarter, academic_year) -%}
    {{ config(
        materialized=quarterly_materialization(),
        incremental_strategy='replace_quarters',
        counts=counts,
        quarter=quarter,
        academic_year=academic_year,
        on_schema_change='fail',
    ) }}
    {%- if quarterly_build() %}
/* depends_on: {{ ref('int_touched_quarters') }} */
    {%- endif %}
{%- endmacro %}

{#-
    The quarters (and NCMP academic years) whose `counts` a quarterly build recomputes
    (int_touched_quarters), as a condition on the SQL expressions `quarter` and
    `academic_year`: a row of an academic year (academic_year not null) is matched on it, any
    other on its quarter.
-#}
{% macro touched_quarters(counts, quarter, academic_year) -%}
    {%- set touched = quarterly_ref('int_touched_quarters') -%}
    (
        ({{ academic_year }}) in (
            select touched.academic_year from {{ touched }} as touched
            where touched.counts = '{{ counts }}' and touched.academic_year is not null
        )
        or (
            ({{ academic_year }}) is null
            and ({{ quarter }}) in (
                select touched.quarter_start from {{ touched }} as touched
                where touched.counts = '{{ counts }}' and touched.academic_year is null
            )
        )
    )
{%- endmacro %}

{#-
    `where` (or `and`, with `keyword`) and touched_quarters in an incremental run of a
    quarter model; nothing otherwise, so the whole table is built.
-#}
{% macro where_touched_quarters(counts, quarter, academic_year, keyword='where') -%}
    {%- if quarterly_build() and is_incremental() %}
    {{ keyword }} {{ touched_quarters(counts, quarter, academic_year) }}
    {%- endif %}
{%- endmacro %}

{#-
    Incremental strategy `replace_quarters`: the rows of the touched quarters are replaced.
    The model's config gives its counts and the expressions of a row's quarter and academic
    year (quarter_model).
-#}
{% macro get_incremental_replace_quarters_sql(arg_dict) -%}
    {{ replace_rows_sql(arg_dict, touched_quarters(
        config.get('counts'), config.get('quarter'), config.get('academic_year')
    )) }}
{%- endmacro %}

{#-
    dbt's get_where_subquery, through which every generic test reads the model it tests (with
    the test's `where` config, as dbt's own). In a quarterly build, a test of error severity
    on a model updated by record, unit, quarter or period (strategies delete+insert,
    replace_units, replace_quarters, replace_periods) reads only the rows the build replaced
    (from `<model>__inserted` for a unit model keeping them, macro inserted_rows), but a
    uniqueness test whose columns do not hold the key a record or unit is replaced by reads
    every row, which a replaced row could duplicate. The other rows are the ones the
    last build tested, and nothing they are tested against has changed since (a change of
    reference data, seeds or project makes a full build). Tests of warning severity read every
    row: their stored failures are the lists data managers work from.
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
            {#- a uniqueness test reads the replaced rows only when they include every row
                that could share its columns: its columns hold the key of the replacement -#}
            {%- set kwargs = model.test_metadata.kwargs if model.test_metadata else {} -%}
            {%- set unique_columns = kwargs.get('combination_of_columns') or (
                [kwargs.get('column_name')] if model.test_metadata
                and model.test_metadata.name == 'unique' else none
            ) -%}
            {%- set replaced_by = tested.config.unique_key if strategy == 'delete+insert'
                else tested.config.unit_key if strategy == 'replace_units' else none -%}
            {%- if unique_columns is not none and replaced_by is not none
                and replaced_by not in unique_columns -%}
                {%- set strategy = none -%}
            {%- endif -%}
            {%- if strategy == 'delete+insert' and tested.config.records_loaded_in -%}
                {%- do conditions.append(records_loaded_since_last_build(
                    tested.config.unique_key, tested.config.records_loaded_in
                )) -%}
            {%- elif strategy == 'replace_periods' -%}
                {%- do conditions.append(touched_periods()) -%}
            {%- elif strategy == 'replace_units' and tested.config.keep_replaced -%}
                {%- set relation = inserted_rows(relation) -%}
            {%- elif strategy == 'replace_units' -%}
                {%- do conditions.append(
                    touched_units(tested.config.unit_type, tested.config.unit_key)
                ) -%}
            {%- elif strategy == 'replace_quarters' -%}
                {%- do conditions.append(touched_quarters(
                    tested.config.counts, tested.config.quarter, tested.config.academic_year
                )) -%}
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
    ref() to a model of the quarterly machinery (int_touched_periods, int_touched_units,
    int_touched_quarters), but in a test its relation by name: a test's dependencies are
    those of the model it tests (which, in a quarterly build, depends on these), and dbt
    refuses a ref() it did not see when it parsed the test.
-#}
{% macro quarterly_ref(name) -%}
    {%- if execute and model.resource_type == 'test' -%}
        {{- return(graph.nodes['model.' ~ project_name ~ '.' ~ name].relation_name) -}}
    {%- endif -%}
    {{- return(ref(name)) -}}
{%- endmacro %}
