{#- An incremental build replaces the records loaded since the last build (macro record_model). -#}
{{ record_model('ncmp_id') }}

with

source as (

    select * from {{ source('ncmp', 'ncmp') }}
    {{- where_loaded_since('ncmp_id', source('ncmp', 'ncmp')) }}

),

latest_versions as (

    {{ latest_version('source', partition_by='ncmp_id') }}

),

renamed as (

    select
        -- keys
        ncmp_id,
        child_pseudo_id,

        -- school year; a return without the academic year is placed by its measurement date
        coalesce(
            academic_year, {{ academic_year_label('measurement_date') }}
        ) as academic_year,
        school_year,
        school_code,

        -- child
        sex,
        birth_date,
        {{ normalise_postcode('child_postcode') }} as child_postcode,
        ethnic_category,

        -- measurement
        measurement_date,
        measurement_date is not null as is_measured,
        not_measured_reason,
        height_cm,
        weight_kg,
        weight_kg / ((height_cm / 100.0) * (height_cm / 100.0)) as bmi,
        cast(
            {{ dbt.datediff('birth_date', 'measurement_date', 'day') }}
            as {{ dbt.type_int() }}
        ) as age_days_at_measurement,

        -- lineage
        file_name,
        extract_date,
        source_row,
        loaded_at

    from latest_versions

)

select * from renamed
