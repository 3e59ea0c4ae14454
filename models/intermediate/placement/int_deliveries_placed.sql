{#-
    Every delivery (a multiple birth counted once), placed by the mother's postcode at
    delivery, with the breakdown groups. The grain changes here from babies to deliveries:
    the mother's and the delivery-level fields come from the delivery's most recently sent
    baby row (the latest version of each baby's birth record, stg_maternity__births), and
    babies, live_births and has_live_birth are counted over all its babies.
-#}

with

births as (

    select * from {{ ref('stg_maternity__births') }}

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

births_of_delivery as (

    select
        birth_id,
        delivery_id,
        mother_pseudo_id,
        mother_postcode,
        mother_ethnic_category,
        mother_age_at_delivery,
        delivery_date,
        delivery_method,
        is_smoker_at_delivery,
        is_breastfeeding_initiated,
        extract_date,
        source_row,
        count(*) over (partition by delivery_id) as babies,
        sum(case when is_live_birth then 1 else 0 end) over (
            partition by delivery_id
        ) as live_births,
        count(is_live_birth) over (partition by delivery_id) as babies_with_known_outcome

    from births

),

latest_delivery_rows as (

    {{ latest_version(
        'births_of_delivery',
        partition_by='delivery_id',
        order_by='extract_date desc, source_row desc, birth_id desc',
    ) }}

),

placed as (

    select
        deliveries.delivery_id,
        deliveries.mother_pseudo_id,
        deliveries.delivery_date,
        cast(deliveries.babies as {{ dbt.type_int() }}) as babies,
        cast(deliveries.live_births as {{ dbt.type_int() }}) as live_births,
        -- unknown when no baby is known to be live and some outcomes are not recorded
        case
            when deliveries.live_births > 0 then true
            when deliveries.babies_with_known_outcome = deliveries.babies then false
        end as has_live_birth,
        deliveries.is_smoker_at_delivery,
        deliveries.is_breastfeeding_initiated,
        deliveries.delivery_method,
        delivery_methods.is_spontaneous as is_spontaneous_delivery,
        deliveries.mother_ethnic_category,
        deliveries.mother_age_at_delivery,
        postcodes.lsoa_code,
        postcodes.centre_code,
        postcodes.la_code,
        postcodes.imd_quintile,
        {{ mother_age_group('deliveries.mother_age_at_delivery') }} as mother_age_group,
        coalesce(ethnic_categories.ethnic_group, 'ethnicity_not_known') as ethnic_group,
        coalesce(postcodes.is_placed, false) as is_placed,
        -- lineage: the birth record whose row supplied the delivery-level fields
        deliveries.birth_id as source_birth_id

    from latest_delivery_rows as deliveries
    left join postcodes
        on deliveries.mother_postcode = postcodes.postcode
    left join ethnic_categories
        on deliveries.mother_ethnic_category = ethnic_categories.ethnic_category
    left join delivery_methods
        on deliveries.delivery_method = delivery_methods.delivery_method

)

select * from placed
