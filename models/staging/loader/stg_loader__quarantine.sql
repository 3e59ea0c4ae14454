with

source as (

    select * from {{ source('loader', 'quarantine') }}

),

renamed as (

    select
        run_id,
        file_name,
        feed,
        source_row,
        reason,
        record_key,
        loaded_at

    from source

)

select * from renamed
