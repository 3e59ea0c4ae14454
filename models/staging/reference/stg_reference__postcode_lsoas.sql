{#-
    Reference files are full replacements, so the raw table holds one file. Postcodes are
    matched on their normalised form; should the file list one postcode twice (e.g. with
    different spacing), its last row wins (the source test on raw.postcode_lsoa warns).
-#}

with

source as (

    select * from {{ source('reference', 'postcode_lsoa') }}
    where postcode is not null

),

latest_versions as (

    {{ latest_version(
        'source',
        partition_by=normalise_postcode('postcode'),
        order_by='loaded_at desc, source_row desc',
    ) }}

),

renamed as (

    select
        {{ normalise_postcode('postcode') }} as postcode,
        lsoa_code,

        -- lineage
        file_name,
        loaded_at

    from latest_versions

)

select * from renamed
