{#-
    One row per counted unit per indicator (shared/specs/indicators.md): the unit belongs to
    the indicator's population (`units`: e.g. deliveries), is in its denominator when the
    outcome is known or recorded, and in its numerator when the outcome occurred. Unplaced
    units stay here, flagged, so that nothing is dropped silently; counts use placed units.
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

low_birth_weight_term as (

    select
        'low_birth_weight_term' as indicator_id,
        birth_id as unit_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        lsoa_code,
        centre_code,
        la_code,
        imd_quintile,
        mother_age_group,
        ethnic_group,
        is_placed,
        birth_weight_grams is not null as is_in_denominator,
        coalesce(birth_weight_grams < 2500, false) as is_in_numerator

    from births
    where is_live_birth and gestation_weeks >= 37

),

low_birth_weight_all as (

    select
        'low_birth_weight_all' as indicator_id,
        birth_id as unit_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        lsoa_code,
        centre_code,
        la_code,
        imd_quintile,
        mother_age_group,
        ethnic_group,
        is_placed,
        birth_weight_grams is not null as is_in_denominator,
        coalesce(birth_weight_grams < 2500, false) as is_in_numerator

    from births
    where is_live_birth

),

normal_delivery as (

    select
        'normal_delivery' as indicator_id,
        delivery_id as unit_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        lsoa_code,
        centre_code,
        la_code,
        imd_quintile,
        mother_age_group,
        ethnic_group,
        is_placed,
        is_spontaneous_delivery is not null as is_in_denominator,
        coalesce(is_spontaneous_delivery, false) as is_in_numerator

    from deliveries

),

smoking_at_delivery as (

    select
        'smoking_at_delivery' as indicator_id,
        delivery_id as unit_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        lsoa_code,
        centre_code,
        la_code,
        imd_quintile,
        mother_age_group,
        ethnic_group,
        is_placed,
        is_smoker_at_delivery is not null as is_in_denominator,
        coalesce(is_smoker_at_delivery, false) as is_in_numerator

    from deliveries

),

breastfeeding_initiation as (

    select
        'breastfeeding_initiation' as indicator_id,
        delivery_id as unit_id,
        delivery_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        lsoa_code,
        centre_code,
        la_code,
        imd_quintile,
        mother_age_group,
        ethnic_group,
        is_placed,
        is_breastfeeding_initiated is not null as is_in_denominator,
        coalesce(is_breastfeeding_initiated, false) as is_in_numerator

    from deliveries
    where has_live_birth

),

breastfeeding_reviews as (

    select
        case review_type
            when 'NBV' then 'breastfeeding_nbv'
            else 'breastfeeding_6_8_weeks'
        end as indicator_id,
        review_id as unit_id,
        due_date as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        lsoa_code,
        centre_code,
        la_code,
        imd_quintile,
        mother_age_group,
        ethnic_group,
        is_placed,
        feeding_status is not null as is_in_denominator,
        coalesce(feeding_status in ('TOTAL', 'PARTIAL'), false) as is_in_numerator

    from reviews
    where review_type in ('NBV', '6-8W')

),

ncmp_indicators as (

    select
        'reception_obesity' as indicator_id,
        'R' as school_year,
        'is_obese' as outcome
    union all
    select
        'reception_overweight_obese' as indicator_id,
        'R' as school_year,
        'is_overweight_or_obese' as outcome
    union all
    select
        'year6_obesity' as indicator_id,
        '6' as school_year,
        'is_obese' as outcome

),

child_measurements as (

    select
        ncmp_indicators.indicator_id,
        measurements.ncmp_id as unit_id,
        cast(null as date) as event_date,
        measurements.academic_year,
        measurements.lsoa_code,
        measurements.centre_code,
        measurements.la_code,
        measurements.imd_quintile,
        -- the mother's age does not apply to school children
        cast(null as {{ dbt.type_string() }}) as mother_age_group,
        measurements.ethnic_group,
        measurements.is_placed,
        coalesce(measurements.has_valid_bmi_centile, false) as is_in_denominator,
        coalesce(
            measurements.has_valid_bmi_centile
            and case ncmp_indicators.outcome
                when 'is_obese' then measurements.is_obese
                else measurements.is_overweight_or_obese
            end,
            false
        ) as is_in_numerator

    from measurements
    inner join ncmp_indicators
        on measurements.school_year = ncmp_indicators.school_year
    where measurements.academic_year is not null

),

unioned as (

    select * from low_birth_weight_term
    union all
    select * from low_birth_weight_all
    union all
    select * from normal_delivery
    union all
    select * from smoking_at_delivery
    union all
    select * from breastfeeding_initiation
    union all
    select * from breastfeeding_reviews
    union all
    select * from child_measurements

)

select * from unioned
