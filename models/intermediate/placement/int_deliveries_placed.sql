{#-
    Every delivery (latest version) placed by the mother's postcode at delivery, with the
    breakdown groups. A delivery counts once however many babies it had.
-#}

with

deliveries as (

    select * from {{ ref('stg_maternity__deliveries') }}

),

postcodes as (

    select * from {{ ref('int_postcodes_placed') }}

),

ethnic_categories as (

    select * from {{ ref('ethnic_category') }}

),

delivery_methods as (

    select * from {{ ref('delivery_method') }}

),

placed as (

    select
        deliveries.delivery_id,
        deliveries.mother_pseudo_id,
        deliveries.delivery_date,
        deliveries.has_live_birth,
        deliveries.is_smoker_at_delivery,
        deliveries.is_breastfeeding_initiated,
        deliveries.delivery_method,
        delivery_methods.is_spontaneous as is_spontaneous_delivery,
        deliveries.mother_ethnic_category,
        postcodes.lsoa_code,
        postcodes.centre_code,
        postcodes.la_code,
        postcodes.imd_quintile,
        {{ mother_age_group('deliveries.mother_age_at_delivery') }} as mother_age_group,
        coalesce(ethnic_categories.ethnic_group, 'ethnicity_not_known') as ethnic_group,
        coalesce(postcodes.is_placed, false) as is_placed

    from deliveries
    left join postcodes
        on deliveries.mother_postcode = postcodes.postcode
    left join ethnic_categories
        on deliveries.mother_ethnic_category = ethnic_categories.ethnic_category
    left join delivery_methods
        on deliveries.delivery_method = delivery_methods.delivery_method

)

select * from placed
