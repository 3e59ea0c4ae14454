{#-
    Every postcode of the lookup with the LSOA, children's centre area, local authority and
    deprivation it places a resident in. A postcode whose LSOA is outside every centre is
    kept with `is_placed = false`; postcodes missing from the lookup are handled by the
    models that place records (they find no row here).

    Ephemeral: postcodes may be held in the raw and staging layers only, so this lookup is
    never stored; the placed models keep the LSOA and centre, not the postcode.
-#}

{{ config(materialized='ephemeral') }}

with

postcode_lsoas as (

    select * from {{ ref('stg_reference__postcode_lsoas') }}

),

lsoa_centres as (

    select * from {{ ref('stg_reference__lsoa_centres') }}

),

lsoa_imd as (

    select * from {{ ref('stg_reference__lsoa_imd') }}

),

placed as (

    select
        postcode_lsoas.postcode,
        postcode_lsoas.lsoa_code,
        lsoa_centres.centre_code,
        lsoa_centres.centre_name,
        lsoa_centres.la_code,
        lsoa_centres.la_name,
        lsoa_imd.imd_decile,
        lsoa_imd.imd_quintile,
        coalesce(
            lsoa_centres.centre_code is not null and lsoa_centres.la_code is not null,
            false
        ) as is_placed

    from postcode_lsoas
    left join lsoa_centres
        on postcode_lsoas.lsoa_code = lsoa_centres.lsoa_code
    left join lsoa_imd
        on postcode_lsoas.lsoa_code = lsoa_imd.lsoa_code

)

select * from placed
