{#-
    Return completeness for data managers: for every feed, item, area and quarter (NCMP:
    academic year) how many records were expected to carry the item and how many did,
    against the item's target. `postcode_placed` is reported for the whole extract
    (area_type 'all'), since an unplaced record has no area.
-#}

with

items as (

    select * from {{ ref('int_return_items_checked') }}

),

item_targets as (

    select * from {{ ref('data_quality_items') }}

),

periodised as (

    select
        feed,
        item_id,
        centre_code,
        la_code,
        is_placed,
        is_recorded,
        case when academic_year is null then 'quarter' else 'academic_year' end
            as period_type,
        {{ return_item_period() }}

    from items
    where event_date is not null or academic_year is not null

),

by_area as (

    select
        feed,
        item_id,
        'centre' as area_type,
        centre_code as area_code,
        la_code,
        period_type,
        period_label,
        period_start,
        is_recorded

    from periodised
    where is_placed and item_id <> 'postcode_placed'

    union all

    select
        feed,
        item_id,
        'la' as area_type,
        la_code as area_code,
        la_code,
        period_type,
        period_label,
        period_start,
        is_recorded

    from periodised
    where is_placed and item_id <> 'postcode_placed'

    union all

    select
        feed,
        item_id,
        'all' as area_type,
        'all' as area_code,
        cast(null as {{ dbt.type_string() }}) as la_code,
        period_type,
        period_label,
        period_start,
        is_recorded

    from periodised
    where item_id = 'postcode_placed'

),

counted as (

    select
        feed,
        item_id,
        area_type,
        area_code,
        la_code,
        period_type,
        period_label,
        period_start,
        count(*) as expected,
        sum(case when is_recorded then 1 else 0 end) as recorded

    from by_area
    group by
        feed,
        item_id,
        area_type,
        area_code,
        la_code,
        period_type,
        period_label,
        period_start

),

judged as (

    select
        counted.feed,
        counted.item_id,
        counted.area_type,
        counted.area_code,
        counted.la_code,
        counted.period_type,
        counted.period_label,
        counted.period_start,
        cast(counted.expected as {{ dbt.type_bigint() }}) as expected,
        cast(counted.recorded as {{ dbt.type_bigint() }}) as recorded,
        cast(100.0 * counted.recorded / counted.expected as double)
            as completeness_pct,
        cast(item_targets.target_pct as double) as target_pct,
        cast(item_targets.minimum_pct as double) as minimum_pct,
        case
            when 100.0 * counted.recorded >= item_targets.target_pct * counted.expected
                then 'meets_target'
            when 100.0 * counted.recorded >= item_targets.minimum_pct * counted.expected
                then 'below_target'
            else 'below_minimum'
        end as status

    from counted
    inner join item_targets
        on counted.item_id = item_targets.item_id

)

select * from judged
