with

source as (

    select * from {{ source('disclosure', 'audit_suppressions') }}

),

renamed as (

    select
        indicator_id,
        area_code,
        breakdown,
        count_kind,
        period_start,
        period_end,
        protects

    from source

)

select * from renamed
