{#- Empty when no boundary file was sent: maps are optional. -#}

with

source as (

    select * from {{ source('reference', 'lsoa_boundaries') }}
    where lsoa_code is not null

),

latest_versions as (

    {{ latest_version(
        'source',
        partition_by='lsoa_code',
        order_by='loaded_at desc',
    ) }}

),

renamed as (

    select
        lsoa_code,
        -- a GeoJSON geometry object, as text
        geometry as geometry_geojson,

        -- lineage
        file_name,
        loaded_at

    from latest_versions

)

select * from renamed
