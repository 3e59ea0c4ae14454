{#-
    The areas indicators are reported for: each children's centre area and each local
    authority (all its LSOAs that lie in a centre area), from the LSOA -> centre lookup.
-#}

with

lsoa_centres as (

    select * from {{ ref('stg_reference__lsoa_centres') }}

),

lsoa_imd as (

    select * from {{ ref('stg_reference__lsoa_imd') }}

),

lsoas as (

    select
        lsoa_centres.lsoa_code,
        lsoa_centres.centre_code,
        lsoa_centres.centre_name,
        lsoa_centres.la_code,
        lsoa_centres.la_name,
        lsoa_imd.imd_decile

    from lsoa_centres
    left join lsoa_imd
        on lsoa_centres.lsoa_code = lsoa_imd.lsoa_code
    where lsoa_centres.centre_code is not null and lsoa_centres.la_code is not null

),

centres as (

    select
        'centre' as area_type,
        centre_code as area_code,
        max(centre_name) as area_name,
        max(la_code) as la_code,
        max(la_name) as la_name,
        count(*) as lsoa_count,
        avg(imd_decile) as mean_imd_decile

    from lsoas
    group by centre_code

),

local_authorities as (

    select
        'la' as area_type,
        la_code as area_code,
        max(la_name) as area_name,
        la_code,
        max(la_name) as la_name,
        count(*) as lsoa_count,
        avg(imd_decile) as mean_imd_decile

    from lsoas
    group by la_code

),

areas as (

    select * from centres
    union all
    select * from local_authorities

)

select * from areas
