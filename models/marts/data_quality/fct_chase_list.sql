{#-
    The chase list: for the latest period of each feed, every placed record that is missing
    an item its return should carry, one row per record and missing item, with the centre
    it counts in. Record keys are the source systems' own keys (birth, delivery, review,
    NCMP ids), so the data manager can find the record there; the list holds no NHS
    number, postcode or date of birth.
-#}

with

items as (

    select * from {{ ref('int_return_items_checked') }}
    where item_id <> 'postcode_placed'

),

item_definitions as (

    select * from {{ ref('data_quality_items') }}

),

latest_periods as (

    -- each feed's latest quarter (NCMP: academic year), from two maxima per feed: a period
    -- is computed only for the records missing an item
    select
        feed,
        coalesce(
            greatest(
                cast({{ dbt.date_trunc('quarter', 'max(event_date)') }} as date),
                {{ academic_year_start('max(academic_year)') }}
            ),
            cast({{ dbt.date_trunc('quarter', 'max(event_date)') }} as date),
            {{ academic_year_start('max(academic_year)') }}
        ) as period_start

    from items
    group by feed

),

missing as (

    select
        feed,
        item_id,
        record_id,
        centre_code,
        la_code,
        {{ return_item_period() }}

    from items
    where is_placed and not is_recorded

),

gaps as (

    select
        missing.feed,
        missing.period_label,
        missing.la_code,
        missing.centre_code,
        missing.record_id as record_key,
        missing.item_id,
        item_definitions.description as missing_item

    from missing
    inner join latest_periods
        on
            missing.feed = latest_periods.feed
            and missing.period_start = latest_periods.period_start
    inner join item_definitions
        on missing.item_id = item_definitions.item_id

)

select * from gaps
