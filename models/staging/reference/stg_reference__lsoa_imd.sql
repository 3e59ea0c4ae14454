with

source as (

    select * from {{ source('reference', 'lsoa_imd') }}
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
        imd_decile,
        -- deciles 1-2 make quintile 1 (most deprived), ..., 9-10 quintile 5
        cast(ceil(imd_decile / 2.0) as {{ dbt.type_int() }}) as imd_quintile,

        -- lineage
        file_name,
        loaded_at

    from latest_versions

)

select * from renamed
