{#-
    What the loader could not take as sent, summarised per file: quarantined rows by reason
    and impossible values by field and reason. Record-level detail stays in the raw zone.
-#}

with

quarantine as (

    select * from {{ ref('stg_loader__quarantine') }}

),

field_issues as (

    select * from {{ ref('stg_loader__field_issues') }}

),

quarantined_rows as (

    select
        file_name,
        feed,
        'quarantined row' as issue_kind,
        cast(null as {{ dbt.type_string() }}) as field,
        reason,
        count(*) as rows_affected

    from quarantine
    group by file_name, feed, reason

),

impossible_values as (

    select
        file_name,
        feed,
        'value set to unknown' as issue_kind,
        field,
        reason,
        count(*) as rows_affected

    from field_issues
    group by file_name, feed, field, reason

),

issues as (

    select
        file_name,
        feed,
        issue_kind,
        field,
        reason,
        cast(rows_affected as {{ dbt.type_bigint() }}) as rows_affected
    from quarantined_rows

    union all

    select
        file_name,
        feed,
        issue_kind,
        field,
        reason,
        cast(rows_affected as {{ dbt.type_bigint() }}) as rows_affected
    from impossible_values

)

select * from issues
