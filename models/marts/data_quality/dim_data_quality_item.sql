{#- The data-quality items with their definitions, targets and minimums (seed). -#}

with

items as (

    select * from {{ ref('data_quality_items') }}

),

final as (

    select
        item_id,
        feed,
        display_order,
        description,
        expected_definition,
        recorded_definition,
        target_pct,
        minimum_pct

    from items

)

select * from final
