with

source as (

    select * from {{ source('loader', 'field_issues') }}

),

renamed as (

    select
        run_id,
        file_name,
        feed,
        source_row,
        record_key,
        field,
        reason,
        loaded_at

    from source

)

select * from renamed
