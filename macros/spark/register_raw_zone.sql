{#-
    Makes the raw zone readable as the sources' schema `raw` (models/staging/*/_*__sources.yml).
    Run by dbt's on-run-start hook (dbt_project.yml) before anything else.

    DuckDB: nothing to do, the loader writes schema `raw` of the warehouse itself.

    Spark: `cc spark export-raw` has written each raw table to
    <raw parquet folder>/<table>/ as Parquet; here each folder becomes the external table
    raw.<table>. The folder is CC_RAW_PARQUET (a URI the cluster reads, e.g.
    s3a://cc-lake/raw_parquet) or, by default, raw_parquet beside the DuckDB warehouse
    (CC_WAREHOUSE), the same folder the export writes to. Tables are dropped and created
    again on every run (dropping an external table leaves its files alone), so a new export
    with changed columns is picked up.
-#}
{% macro register_raw_zone() -%}
    {{ return(adapter.dispatch('register_raw_zone', 'childrens_centres')()) }}
{%- endmacro %}

{% macro default__register_raw_zone() -%}
    {{ return('') }}
{%- endmacro %}

{% macro spark__register_raw_zone() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set location = raw_parquet_location() -%}
    {%- set tables = [] -%}
    {%- for source in graph.sources.values() -%}
        {%- if source.schema == 'raw' and source.identifier not in tables -%}
            {%- do tables.append(source.identifier) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do run_query('create database if not exists raw') -%}
    {%- for table in tables | sort -%}
        {%- do run_query('drop table if exists raw.' ~ table) -%}
        {#- a Spark string literal: a quote in a path (children's centres) escaped -#}
        {%- set path = (location ~ '/' ~ table) | replace('\\', '\\\\') | replace("'", "\\'") -%}
        {%- do run_query('create table raw.' ~ table ~ " using parquet location '" ~ path ~ "'") -%}
    {%- endfor -%}
    {%- do log('raw zone: ' ~ tables | length ~ ' Spark tables over ' ~ location, info=true) -%}
    {{ return('') }}
{%- endmacro %}

{#-
    The raw zone's Parquet folder as an absolute location. A relative path (the default, when
    CC_WAREHOUSE is relative) is taken from the working directory of Spark's driver, which in
    the session method is this dbt process's: Spark would otherwise resolve it against the
    database's folder.
-#}
{% macro raw_parquet_location() -%}
    {%- set warehouse = env_var('CC_WAREHOUSE', 'warehouse/childrens_centres.duckdb') -%}
    {%- set state = warehouse.rpartition('/')[0] or '.' -%}
    {%- set location = env_var('CC_RAW_PARQUET', '') or state ~ '/raw_parquet' -%}
    {%- if not (location.startswith('/') or ':' in location) -%}
        {%- set cwd = run_query(
            "select reflect('java.lang.System', 'getProperty', 'user.dir')"
        ).columns[0].values()[0] -%}
        {%- set location = cwd ~ '/' ~ (location[2:] if location.startswith('./') else location) -%}
    {%- endif -%}
    {{ return(location.rstrip('/')) }}
{%- endmacro %}
