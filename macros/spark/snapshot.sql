{#-
    dbt-spark's snapshot materialization, also for plain Parquet tables.

    dbt-spark snapshots only into Delta, Iceberg or Hudi tables, whose MERGE updates the
    rows a change closes. A Spark without those formats (the local `spark` target: their
    jars are not part of pyspark) keeps the snapshot as a Parquet table instead, and the
    merge is done by rewriting it: the closed rows and the new ones are written to a scratch
    table, which then replaces the snapshot's contents (Spark cannot overwrite a table in
    the statement that reads it). The result is the rows MERGE would leave. On a cluster with
    Delta, Iceberg or Hudi (file_format in the config, or an existing table of that format)
    the adapter's MERGE is used, as in dbt-spark.

    Everything else is dbt-spark 1.11's materialization, except that the helper columns of a
    unique key of several columns are kept out of the snapshot table, as dbt-core does.
-#}

{% macro spark_snapshot_overwrite_sql(target, source) -%}
    {#- Returns the statement that replaces the snapshot; runs the scratch-table step. -#}
    {%- set columns = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() -%}
    {%- set scratch = target.incorporate(path={'identifier': target.identifier ~ '__dbt_merged'}) -%}
    {%- set target_columns = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
    {%- set source_columns = adapter.get_columns_in_relation(source) | map(attribute='name') | list -%}

    {%- call statement('snapshot_drop_scratch') -%}
        drop table if exists {{ scratch }}
    {%- endcall -%}
    {%- call statement('snapshot_merge_to_scratch') -%}
        create table {{ scratch }} using parquet as
        select
            {% for column in target_columns -%}
            {%- if column == columns.dbt_valid_to -%}
            case
                when DBT_INTERNAL_SOURCE.{{ columns.dbt_scd_id }} is not null
                    then DBT_INTERNAL_SOURCE.{{ columns.dbt_valid_to }}
                else DBT_INTERNAL_DEST.{{ columns.dbt_valid_to }}
            end as {{ adapter.quote(column) }}
            {%- else -%}
            DBT_INTERNAL_DEST.{{ adapter.quote(column) }}
            {%- endif -%}
            {{ ',' if not loop.last }}
            {% endfor %}
        from {{ target }} as DBT_INTERNAL_DEST
        left join (
            select * from {{ source }}
            where dbt_change_type in ('update', 'delete')
        ) as DBT_INTERNAL_SOURCE
            on DBT_INTERNAL_SOURCE.{{ columns.dbt_scd_id }} = DBT_INTERNAL_DEST.{{ columns.dbt_scd_id }}
            {% if config.get("dbt_valid_to_current") -%}
            and (
                DBT_INTERNAL_DEST.{{ columns.dbt_valid_to }} = {{ config.get('dbt_valid_to_current') }}
                or DBT_INTERNAL_DEST.{{ columns.dbt_valid_to }} is null
            )
            {%- else -%}
            and DBT_INTERNAL_DEST.{{ columns.dbt_valid_to }} is null
            {%- endif %}

        union all

        select
            {% for column in target_columns -%}
            {{ adapter.quote(column) if column in source_columns else 'null' }}{{ ',' if not loop.last }}
            {% endfor %}
        from {{ source }}
        where dbt_change_type = 'insert'
    {%- endcall -%}

    insert overwrite table {{ target }}
    select * from {{ scratch }}
{%- endmacro %}


{% materialization snapshot, adapter='spark' %}

  {%- set target_table = model.get('alias', model.get('name')) -%}

  {%- set strategy_name = config.get('strategy') -%}
  {%- set unique_key = config.get('unique_key') %}
  {%- set file_format = config.get('file_format') or 'parquet' -%}
  {%- set grant_config = config.get('grants') -%}

  {% set target_relation_exists, target_relation = get_or_create_relation(
          database=none,
          schema=model.schema,
          identifier=target_table,
          type='table') -%}

  {%- set merge_formats = ['delta', 'iceberg', 'hudi'] -%}
  {%- if file_format not in merge_formats + ['parquet'] -%}
    {% do exceptions.raise_compiler_error(
        'Invalid file format: ' ~ file_format ~ '. Snapshots are kept as delta, iceberg, hudi or parquet.') %}
  {% endif %}
  {%- set use_merge = file_format in merge_formats
      or (target_relation_exists
          and (target_relation.is_delta or target_relation.is_iceberg or target_relation.is_hudi)) -%}

  {% if not adapter.check_schema_exists(model.database, model.schema) %}
    {% do create_schema(model.schema) %}
  {% endif %}

  {%- if not target_relation.is_table -%}
    {% do exceptions.relation_wrong_type(target_relation, 'table') %}
  {%- endif -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}

  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% set strategy_macro = strategy_dispatch(strategy_name) %}
  {% set strategy = strategy_macro(model, "snapshotted_data", "source_data", model['config'], target_relation_exists) %}

  {% if not target_relation_exists %}

      {% set build_sql = build_snapshot_table(strategy, model['compiled_code']) %}
      {% set final_sql = create_table_as(False, target_relation, build_sql) %}

  {% else %}

      {% set columns = config.get("snapshot_table_column_names") or get_snapshot_table_column_names() %}

      {{ adapter.valid_snapshot_target(target_relation, columns) }}

      {% set staging_table = spark_build_snapshot_staging_table(strategy, sql, target_relation) %}

      -- this may no-op if the database does not require column expansion
      {% do adapter.expand_target_column_types(from_relation=staging_table,
                                               to_relation=target_relation) %}

      {#- The staging table's helper columns never become snapshot columns: for a unique key
          of several columns they are dbt_unique_key_1, _2, ... (as in dbt-core's own
          materialization; added to the table, they would make the next run's staging query
          ambiguous). -#}
      {% set remove_columns = ['dbt_change_type', 'DBT_CHANGE_TYPE', 'dbt_unique_key', 'DBT_UNIQUE_KEY'] %}
      {% if unique_key | is_list %}
          {% for key in unique_key %}
              {% do remove_columns.append('dbt_unique_key_' ~ loop.index) %}
              {% do remove_columns.append('DBT_UNIQUE_KEY_' ~ loop.index) %}
          {% endfor %}
      {% endif %}

      {% set missing_columns = adapter.get_missing_columns(staging_table, target_relation)
                                   | rejectattr('name', 'in', remove_columns)
                                   | list %}

      {% do create_columns(target_relation, missing_columns) %}

      {% if use_merge %}
        {% set source_columns = adapter.get_columns_in_relation(staging_table)
                                     | rejectattr('name', 'in', remove_columns)
                                     | list %}

        {% set quoted_source_columns = [] %}
        {% for column in source_columns %}
          {% do quoted_source_columns.append(adapter.quote(column.name)) %}
        {% endfor %}

        {% set final_sql = snapshot_merge_sql(
              target = target_relation,
              source = staging_table,
              insert_cols = quoted_source_columns
           )
        %}
      {% else %}
        {% set final_sql = spark_snapshot_overwrite_sql(target_relation, staging_table) %}
      {% endif %}

  {% endif %}

  {% call statement('main') %}
      {{ final_sql }}
  {% endcall %}

  {% if target_relation_exists and not use_merge %}
    {% call statement('snapshot_drop_scratch_after') %}
        drop table if exists {{ target_relation.incorporate(path={'identifier': target_relation.identifier ~ '__dbt_merged'}) }}
    {% endcall %}
  {% endif %}

  {% set should_revoke = should_revoke(target_relation_exists, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {{ adapter.commit() }}

  {% if staging_table is defined %}
      {% do post_snapshot(staging_table) %}
  {% endif %}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}
