{#-
    One row per delivery, built from the latest version of each baby's birth record: the
    delivery-level fields repeat on every baby row of a multiple birth, and the most recently
    sent row of the delivery provides them. Counts of babies use windows, not a group by,
    so that staging stays free of aggregation.
-#}

with

source as (

    select * from {{ source('maternity', 'maternity') }}

),

latest_births as (

    {{ latest_version('source', partition_by='birth_id') }}

),

births_of_delivery as (

    select
        birth_id,
        delivery_id,
        mother_pseudo_id,
        mother_birth_date,
        mother_postcode,
        mother_ethnic_category,
        delivery_date,
        delivery_method,
        smoking_at_delivery,
        breastfeeding_initiated,
        file_name,
        extract_date,
        source_row,
        loaded_at,
        count(*) over (partition by delivery_id) as babies,
        sum(case when live_birth = 'Y' then 1 else 0 end) over (
            partition by delivery_id
        ) as live_births,
        count(live_birth) over (partition by delivery_id) as babies_with_known_outcome

    from latest_births

),

latest_delivery_rows as (

    {{ latest_version(
        'births_of_delivery',
        partition_by='delivery_id',
        order_by='extract_date desc, source_row desc, birth_id desc',
    ) }}

),

renamed as (

    select
        -- keys
        delivery_id,
        mother_pseudo_id,

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

        -- babies
        cast(babies as {{ dbt.type_int() }}) as babies,
        cast(live_births as {{ dbt.type_int() }}) as live_births,
        -- unknown when no baby is known to be live and some outcomes are not recorded
        case
            when live_births > 0 then true
            when babies_with_known_outcome = babies then false
        end as has_live_birth,

        -- lineage: the birth row the delivery-level fields come from
        birth_id as source_birth_id,
        file_name,
        extract_date,
        source_row,
        loaded_at

    from latest_delivery_rows

)

select * from renamed
