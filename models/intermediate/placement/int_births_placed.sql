{#-
    Every baby's birth record (latest version) placed by the mother's postcode at delivery,
    with the breakdown groups the indicators need. Unplaced births stay, flagged.
-#}

{{ record_model('birth_id') }}

with

births as (

    select * from {{ ref('stg_maternity__births') }}
    {{- where_loaded_since('birth_id', ref('stg_maternity__births')) }}

),

postcodes as (

    select * from {{ ref('int_postcodes_placed') }}

),

ethnic_categories as (

    select * from {{ ref('ethnic_category') }}

),

placed as (

    select
        births.birth_id,
        births.delivery_id,
        births.baby_pseudo_id,
        births.delivery_date,
        births.is_live_birth,
        births.gestation_weeks,
        births.birth_weight_grams,
        postcodes.lsoa_code,
        postcodes.centre_code,
        postcodes.la_code,
        postcodes.imd_quintile,
        {{ mother_age_group('births.mother_age_at_delivery') }} as mother_age_group,
        coalesce(ethnic_categories.ethnic_group, 'ethnicity_not_known') as ethnic_group,
        coalesce(postcodes.is_placed, false) as is_placed

    from births
    left join postcodes
        on births.mother_postcode = postcodes.postcode
    left join ethnic_categories
        on births.mother_ethnic_category = ethnic_categories.ethnic_category

)

select * from placed
