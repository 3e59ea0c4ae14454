{#-
    LSOA polygons with the children's centre area and local authority each LSOA belongs to,
    for maps in the published copies (which cannot read the raw zone). LSOA codes and their
    polygons are public ONS geography, not identifiers. A centre's outline is the union of
    its LSOAs, dissolved at report time (SQL has no portable polygon union). Empty when no
    boundary file was sent: the reports are then made without maps.
-#}

with

lsoa_boundaries as (

    select * from {{ ref('stg_reference__lsoa_boundaries') }}

),

lsoa_centres as (

    select * from {{ ref('stg_reference__lsoa_centres') }}

),

placed as (

    select
        lsoa_boundaries.lsoa_code,
        lsoa_centres.centre_code,
        lsoa_centres.la_code,
        lsoa_boundaries.geometry_geojson

    from lsoa_boundaries
    -- an LSOA outside every centre area is outside the city: it is not drawn
    inner join lsoa_centres
        on lsoa_boundaries.lsoa_code = lsoa_centres.lsoa_code

)

select * from placed
