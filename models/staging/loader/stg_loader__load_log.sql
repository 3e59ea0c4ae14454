with

source as (

    select * from {{ source('loader', 'load_log') }}

),

renamed as (

    select
        run_id,
        file_name,
        feed,
        extract_date,
        sha256,
        rows_read,
        rows_accepted,
        rows_quarantined,
        field_issues,
        ignored_columns,
        encoding,
        ge_success,
        loaded_at

    from source

)

select * from renamed
