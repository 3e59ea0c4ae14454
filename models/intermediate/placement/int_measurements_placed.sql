{#-
    Every NCMP record (eligible child, measured or not) with its BMI centile, placed by the
    child's postcode, with the child's ethnic group.
-#}

{{ record_model('ncmp_id') }}

with

measurements as (

    select * from {{ ref('int_ncmp_measurements_scored') }}
    {{- where_loaded_since('ncmp_id', ref('stg_ncmp__measurements')) }}

),

residences as (

    -- the postcode stays in staging; only the placement it gives leaves
    select
        ncmp_id,
        child_postcode

    from {{ ref('stg_ncmp__measurements') }}

),

postcodes as (

    select * from {{ ref('int_postcodes_placed') }}

),

ethnic_categories as (

    select * from {{ ref('ethnic_category') }}

),

placed as (

    select
        measurements.ncmp_id,
        measurements.academic_year,
        measurements.school_year,
        measurements.is_measured,
        measurements.has_valid_bmi_centile,
        measurements.is_overweight_or_obese,
        measurements.is_obese,
        postcodes.lsoa_code,
        postcodes.centre_code,
        postcodes.la_code,
        postcodes.imd_quintile,
        coalesce(ethnic_categories.ethnic_group, 'ethnicity_not_known') as ethnic_group,
        coalesce(postcodes.is_placed, false) as is_placed

    from measurements
    left join residences
        on measurements.ncmp_id = residences.ncmp_id
    left join postcodes
        on residences.child_postcode = postcodes.postcode
    left join ethnic_categories
        on measurements.ethnic_category = ethnic_categories.ethnic_category

)

select * from placed
