{#- An incremental build replaces the records loaded since the last build (macro record_model). -#}
{{ record_model('review_id') }}

with

source as (

    select * from {{ source('health_visiting', 'health_visiting') }}
    {{- where_loaded_since('review_id', source('health_visiting', 'health_visiting')) }}

),

latest_versions as (

    {{ latest_version('source', partition_by='review_id') }}

),

renamed as (

    select
        -- keys
        review_id,
        child_pseudo_id,

        -- child
        child_birth_date,
        {{ normalise_postcode('child_postcode') }} as child_postcode,

        -- review
        review_type,
        due_date,
        contact_date,
        contact_date is not null as is_review_done,
        cast(
            {{ dbt.datediff('child_birth_date', 'contact_date', 'day') }}
            as {{ dbt.type_int() }}
        ) as child_age_days_at_contact,
        feeding_status,

        -- lineage
        file_name,
        extract_date,
        source_row,
        loaded_at

    from latest_versions

)

select * from renamed
