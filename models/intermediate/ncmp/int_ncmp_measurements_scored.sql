{#-
    Every NCMP record (eligible child, measured or not) with the child's BMI centile on the
    UK90 reference and the population-monitoring category (../shared/specs/indicators.md).

    Decimal age is days / 365.25 (staging's age_days_at_measurement); L, M and S are
    interpolated linearly between the reference's monthly points that bracket the child's
    age in months (the floor and ceiling of days * 12 / 365.25). A centile is computed only
    where it is valid: measured height and weight, known sex, age 4 to 13 years (completed
    years, i.e. 4 <= decimal age < 14) and BMI 8 to 50. Other measured children get an
    invalid_reason; all are kept, since eligible children are the participation denominator.

    Carries the breakdown columns (ethnic_category, academic_year, school_year); the
    child's postcode stays in staging (nothing downstream of staging holds postcodes), and
    int_measurements_placed places the child by joining it there.
-#}

{{ record_model('ncmp_id') }}

with

measurements as (

    select * from {{ ref('stg_ncmp__measurements') }}
    {{- where_loaded_since('ncmp_id', ref('stg_ncmp__measurements')) }}

),

uk90_bmi_lms as (

    select * from {{ ref('uk90_bmi_lms') }}

),

assessed as (

    select
        ncmp_id,
        child_pseudo_id,
        academic_year,
        school_year,
        school_code,
        sex,
        ethnic_category,
        measurement_date,
        not_measured_reason,
        height_cm,
        weight_kg,
        bmi,
        -- as double: Spark would divide an integer by 365.25 in decimals rounded to 6 places
        cast(age_days_at_measurement as double) / 365.25 as age_years_at_measurement,
        cast(age_days_at_measurement * 12 as double) / 365.25 as age_months_at_measurement,
        (
            measurement_date is not null
            and height_cm is not null
            and weight_kg is not null
        ) as is_measured,
        -- the first reason, in this order, that a measured child's centile is invalid
        case
            when measurement_date is null then null
            when height_cm is null or weight_kg is null then 'height_or_weight_unknown'
            when sex is null then 'sex_unknown'
            when age_days_at_measurement is null then 'age_unknown'
            -- 4 to 13 in completed years: 1461 days is 4.0 years, 5113.5 days 14.0
            when
                age_days_at_measurement < 1461
                or age_days_at_measurement >= 5113.5
                then 'age_outside_4_13'
            when bmi < 8 or bmi > 50 then 'bmi_outside_8_50'
        end as invalid_reason

    from measurements

),

valid_for_centile as (

    select
        ncmp_id,
        child_pseudo_id,
        academic_year,
        school_year,
        school_code,
        sex,
        ethnic_category,
        measurement_date,
        not_measured_reason,
        height_cm,
        weight_kg,
        bmi,
        age_years_at_measurement,
        age_months_at_measurement,
        is_measured,
        invalid_reason,
        is_measured and invalid_reason is null as has_valid_bmi_centile

    from assessed

),

lms_interpolated as (

    select
        valid_for_centile.ncmp_id,
        lower_point.l
        + (upper_point.l - lower_point.l)
        * (valid_for_centile.age_months_at_measurement - lower_point.age_months) as uk90_l,
        lower_point.m
        + (upper_point.m - lower_point.m)
        * (valid_for_centile.age_months_at_measurement - lower_point.age_months) as uk90_m,
        lower_point.s
        + (upper_point.s - lower_point.s)
        * (valid_for_centile.age_months_at_measurement - lower_point.age_months) as uk90_s

    from valid_for_centile
    inner join uk90_bmi_lms as lower_point
        on
            valid_for_centile.sex = lower_point.sex
            and floor(valid_for_centile.age_months_at_measurement) = lower_point.age_months
    inner join uk90_bmi_lms as upper_point
        on
            valid_for_centile.sex = upper_point.sex
            and ceil(valid_for_centile.age_months_at_measurement) = upper_point.age_months
    where valid_for_centile.has_valid_bmi_centile

),

z_scores as (

    select
        valid_for_centile.ncmp_id,
        valid_for_centile.child_pseudo_id,
        valid_for_centile.academic_year,
        valid_for_centile.school_year,
        valid_for_centile.school_code,
        valid_for_centile.sex,
        valid_for_centile.ethnic_category,
        valid_for_centile.measurement_date,
        valid_for_centile.not_measured_reason,
        valid_for_centile.height_cm,
        valid_for_centile.weight_kg,
        valid_for_centile.bmi,
        valid_for_centile.age_years_at_measurement,
        valid_for_centile.is_measured,
        valid_for_centile.has_valid_bmi_centile,
        valid_for_centile.invalid_reason,
        {{ lms_z(
            'valid_for_centile.bmi',
            'lms_interpolated.uk90_l',
            'lms_interpolated.uk90_m',
            'lms_interpolated.uk90_s',
        ) }} as bmi_z

    from valid_for_centile
    left join lms_interpolated
        on valid_for_centile.ncmp_id = lms_interpolated.ncmp_id

),

classified as (

    select
        ncmp_id,
        child_pseudo_id,
        academic_year,
        school_year,
        school_code,
        sex,
        ethnic_category,
        measurement_date,
        not_measured_reason,
        height_cm,
        weight_kg,
        bmi,
        age_years_at_measurement,
        is_measured,
        has_valid_bmi_centile,
        invalid_reason,
        -- classified on the unrounded z; the stored z and centile are rounded below
        bmi_z,
        100 * {{ normal_cdf('bmi_z') }} as bmi_centile,
        {{ bmi_category('bmi_z') }} as bmi_category,
        bmi_z >= {{ bmi_threshold_z('overweight') }} as is_overweight_or_obese,
        bmi_z >= {{ bmi_threshold_z('obese') }} as is_obese,
        bmi_z >= {{ bmi_threshold_z('severely_obese') }} as is_severely_obese

    from z_scores

),

final as (

    select
        -- keys
        ncmp_id,
        child_pseudo_id,

        -- placement and breakdowns
        academic_year,
        school_year,
        school_code,
        sex,
        ethnic_category,

        -- measurement
        measurement_date,
        not_measured_reason,
        height_cm,
        weight_kg,
        bmi,
        age_years_at_measurement,
        is_measured,
        has_valid_bmi_centile,
        invalid_reason,

        -- UK90 BMI centile: z to 6 and centile to 4 decimals, far finer than any use, so
        -- that stored values do not differ between engines in the last binary digit
        round(bmi_z, 6) as bmi_z,
        round(bmi_centile, 4) as bmi_centile,
        bmi_category,
        is_overweight_or_obese,
        is_obese,
        is_severely_obese

    from classified

)

select * from final
