{#-
    Every file the loader took in, newest first within a feed: what was read, accepted and
    quarantined, and whether Great Expectations passed it. For the data-quality report and
    BI tools (no record-level data).
-#}

with

load_log as (

    select * from {{ ref('stg_loader__load_log') }}

),

files as (

    select
        file_name,
        feed,
        extract_date,
        run_id,
        loaded_at,
        rows_read,
        rows_accepted,
        rows_quarantined,
        field_issues,
        ignored_columns,
        encoding,
        ge_success

    from load_log

)

select * from files
