{#-
    One row per record and data-quality item (shared/specs/indicators.md, "return
    completeness"): whether the record was expected to carry the item and whether it did,
    with the area and period it counts in. Unplaced records are kept (no area) so that
    `postcode_placed` can count them.
-#}

with

births as (

    select * from {{ ref('int_births_placed') }}

),

deliveries as (

    select * from {{ ref('int_deliveries_placed') }}

),

reviews as (

    select * from {{ ref('int_reviews_linked') }}

),

measurements as (

    select * from {{ ref('int_measurements_placed') }}

),

delivery_items as (

    select
        'maternity' as feed,
        'smoking_status_known' as item_id,
        delivery_id as record_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        is_smoker_at_delivery is not null as is_recorded

    from deliveries

    union all

    select
        'maternity' as feed,
        'breastfeeding_initiation_known' as item_id,
        delivery_id as record_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        is_breastfeeding_initiated is not null as is_recorded

    from deliveries
    where has_live_birth

    union all

    select
        'maternity' as feed,
        'delivery_method_known' as item_id,
        delivery_id as record_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        delivery_method is not null as is_recorded

    from deliveries

    union all

    select
        'maternity' as feed,
        'ethnicity_known' as item_id,
        delivery_id as record_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        coalesce(mother_ethnic_category not in ('Z', '99'), false) as is_recorded

    from deliveries

    union all

    select
        'maternity' as feed,
        'postcode_placed' as item_id,
        delivery_id as record_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        is_placed as is_recorded

    from deliveries

),

birth_items as (

    select
        'maternity' as feed,
        'birth_weight_known' as item_id,
        birth_id as record_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        birth_weight_grams is not null as is_recorded

    from births
    where is_live_birth

    union all

    select
        'maternity' as feed,
        'gestation_known' as item_id,
        birth_id as record_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        gestation_weeks is not null as is_recorded

    from births
    where is_live_birth

),

review_items as (

    select
        'health_visiting' as feed,
        'nbv_within_14_days' as item_id,
        review_id as record_id,
        due_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        -- the visit is due on day 14, so without a birth date the due date stands in
        coalesce(
            child_age_days_at_contact <= 14
            or (child_age_days_at_contact is null and contact_date <= due_date),
            false
        ) as is_recorded

    from reviews
    where review_type = 'NBV'

    union all

    select
        'health_visiting' as feed,
        case review_type
            when 'NBV' then 'nbv_feeding_status_recorded'
            else 'six_eight_week_feeding_status_recorded'
        end as item_id,
        review_id as record_id,
        due_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        feeding_status is not null as is_recorded

    from reviews
    where review_type in ('NBV', '6-8W')

    union all

    select
        'health_visiting' as feed,
        'postcode_placed' as item_id,
        review_id as record_id,
        due_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        is_placed as is_recorded

    from reviews

),

measurement_items as (

    select
        'ncmp' as feed,
        'ncmp_participation' as item_id,
        ncmp_id as record_id,
        cast(null as date) as event_date,
        academic_year,
        centre_code,
        la_code,
        is_placed,
        coalesce(has_valid_bmi_centile, false) as is_recorded

    from measurements

    union all

    select
        'ncmp' as feed,
        'postcode_placed' as item_id,
        ncmp_id as record_id,
        cast(null as date) as event_date,
        academic_year,
        centre_code,
        la_code,
        is_placed,
        is_placed as is_recorded

    from measurements

),

items as (

    select * from delivery_items
    union all
    select * from birth_items
    union all
    select * from review_items
    union all
    select * from measurement_items

)

select * from items
