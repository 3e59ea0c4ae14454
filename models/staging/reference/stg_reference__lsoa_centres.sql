with

source as (

    select * from {{ source('reference', 'lsoa_centre') }}
    where lsoa_code is not null

),

latest_versions as (

    {{ latest_version(
        'source',
        partition_by='lsoa_code',
        order_by='loaded_at desc, source_row desc',
    ) }}

),

renamed as (

    select
        lsoa_code,
        centre_code,
        -- a name left blank is the code (the loader quarantines a blank code)
        coalesce(centre_name, centre_code) as centre_name,
        la_code,
        coalesce(la_name, la_code) as la_name,

        -- lineage
        file_name,
        loaded_at

    from latest_versions

)

select * from renamed
