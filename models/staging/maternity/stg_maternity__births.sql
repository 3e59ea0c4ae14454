{#- An incremental build replaces the records loaded since the last build (macro record_model). -#}
{{ record_model('birth_id') }}

with

source as (

    select * from {{ source('maternity', 'maternity') }}
    {{- where_loaded_since('birth_id', source('maternity', 'maternity')) }}

),

latest_versions as (

    {{ latest_version('source', partition_by='birth_id') }}

),

renamed as (

    select
        -- keys
        birth_id,
        delivery_id,
        mother_pseudo_id,
        baby_pseudo_id,

        -- mother
        mother_birth_date,
        {{ normalise_postcode('mother_postcode') }} as mother_postcode,
        mother_ethnic_category,
        cast(
            {{ whole_years_between('mother_birth_date', 'delivery_date') }}
            as {{ dbt.type_int() }}
        ) as mother_age_at_delivery,

        -- delivery
        delivery_date,
        delivery_method,
        {{ yes_no_to_boolean('smoking_at_delivery') }} as is_smoker_at_delivery,
        {{ yes_no_to_boolean('breastfeeding_initiated') }} as is_breastfeeding_initiated,

        -- baby
        {{ yes_no_to_boolean('live_birth') }} as is_live_birth,
        gestation_weeks,
        birth_weight_grams,

        -- lineage
        file_name,
        extract_date,
        source_row,
        loaded_at

    from latest_versions

)

select * from renamed
