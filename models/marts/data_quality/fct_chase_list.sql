{#-
    The chase list: for the latest period of each feed, every placed record that is missing
    an item its return should carry, one row per record and missing item, with the centre
    it counts in. Record keys are the source systems' own keys (birth, delivery, review,
    NCMP ids), so the data manager can find the record there; the list holds no NHS
    number, postcode or date of birth.
-#}

with

items as (

    select * from {{ ref('int_return_items') }}
    where item_id <> 'postcode_placed'

),

item_definitions as (

    select * from {{ ref('data_quality_items') }}

),

periodised as (

    select
        feed,
        item_id,
        record_id,
        centre_code,
        la_code,
        is_placed,
        is_recorded,
        coalesce(academic_year, {{ financial_quarter_label('event_date') }}) as period_label,
        coalesce(
            cast({{ dbt.date_trunc('quarter', 'event_date') }} as date),
            cast({{ dbt.concat(["substring(academic_year, 1, 4)", "'-09-01'"]) }} as date)
        ) as period_start

    from items

),

latest_periods as (

    select
        feed,
        max(period_start) as period_start

    from periodised
    group by feed

),

gaps as (

    select
        periodised.feed,
        periodised.period_label,
        periodised.la_code,
        periodised.centre_code,
        periodised.record_id as record_key,
        periodised.item_id,
        item_definitions.description as missing_item

    from periodised
    inner join latest_periods
        on
            periodised.feed = latest_periods.feed
            and periodised.period_start = latest_periods.period_start
    inner join item_definitions
        on periodised.item_id = item_definitions.item_id
    where periodised.is_placed and not periodised.is_recorded

)

select * from gaps
