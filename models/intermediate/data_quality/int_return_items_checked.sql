{#-
    One row per record and data-quality item (shared/specs/indicators.md, "return
    completeness"): whether the record was expected to carry the item and whether it did,
    with the area and period it counts in. Unplaced records are kept (no area) so that
    `postcode_placed` can count them.
-#}

with

births as (

    select * from {{ ref('int_births_placed') }}

),

deliveries as (

    select * from {{ ref('int_deliveries_placed') }}

),

reviews as (

    select * from {{ ref('int_reviews_linked') }}

),

measurements as (

    select * from {{ ref('int_measurements_placed') }}

),

{# Items of the maternity and health-visiting returns: who is expected, what counts. #}
{% set return_items = [
    {'feed': 'maternity', 'item': "'smoking_status_known'", 'records': 'deliveries',
     'key': 'delivery_id', 'date': 'delivery_date', 'expected': 'true',
     'recorded': 'is_smoker_at_delivery is not null'},
    {'feed': 'maternity', 'item': "'breastfeeding_initiation_known'", 'records': 'deliveries',
     'key': 'delivery_id', 'date': 'delivery_date', 'expected': 'has_live_birth',
     'recorded': 'is_breastfeeding_initiated is not null'},
    {'feed': 'maternity', 'item': "'delivery_method_known'", 'records': 'deliveries',
     'key': 'delivery_id', 'date': 'delivery_date', 'expected': 'true',
     'recorded': 'delivery_method is not null'},
    {'feed': 'maternity', 'item': "'ethnicity_known'", 'records': 'deliveries',
     'key': 'delivery_id', 'date': 'delivery_date', 'expected': 'true',
     'recorded': "coalesce(mother_ethnic_category not in ('Z', '99'), false)"},
    {'feed': 'maternity', 'item': "'postcode_placed'", 'records': 'deliveries',
     'key': 'delivery_id', 'date': 'delivery_date', 'expected': 'true',
     'recorded': 'is_placed'},
    {'feed': 'maternity', 'item': "'birth_weight_known'", 'records': 'births',
     'key': 'birth_id', 'date': 'delivery_date', 'expected': 'is_live_birth',
     'recorded': 'birth_weight_grams is not null'},
    {'feed': 'maternity', 'item': "'gestation_known'", 'records': 'births',
     'key': 'birth_id', 'date': 'delivery_date', 'expected': 'is_live_birth',
     'recorded': 'gestation_weeks is not null'},
    {'feed': 'health_visiting', 'item': "'nbv_within_14_days'", 'records': 'reviews',
     'key': 'review_id', 'date': 'due_date', 'expected': "review_type = 'NBV'",
     'recorded': 'coalesce(child_age_days_at_contact <= 14'
         ' or (child_age_days_at_contact is null and contact_date <= due_date), false)',
     'note': 'the visit is due on day 14, so without a birth date the due date stands in'},
    {'feed': 'health_visiting',
     'item': "case review_type when 'NBV' then 'nbv_feeding_status_recorded'"
         " else 'six_eight_week_feeding_status_recorded' end",
     'records': 'reviews', 'key': 'review_id', 'date': 'due_date',
     'expected': "review_type in ('NBV', '6-8W')",
     'recorded': 'feeding_status is not null'},
    {'feed': 'health_visiting', 'item': "'postcode_placed'", 'records': 'reviews',
     'key': 'review_id', 'date': 'due_date', 'expected': 'true', 'recorded': 'is_placed'},
] %}

dated_items as (

    {% for item in return_items %}
    {%- if item.note %}
    -- {{ item.note }}
    {%- endif %}
    select
        '{{ item.feed }}' as feed,
        {{ item.item }} as item_id,
        {{ item.key }} as record_id,
        {{ item.date }} as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        centre_code,
        la_code,
        is_placed,
        {{ item.recorded }} as is_recorded

    from {{ item.records }}
    where {{ item.expected }}
    {% if not loop.last %}

    union all

    {% endif %}
    {%- endfor %}

),

measurement_items as (

    select
        'ncmp' as feed,
        'ncmp_participation' as item_id,
        ncmp_id as record_id,
        cast(null as date) as event_date,
        academic_year,
        centre_code,
        la_code,
        is_placed,
        coalesce(has_valid_bmi_centile, false) as is_recorded

    from measurements

    union all

    select
        'ncmp' as feed,
        'postcode_placed' as item_id,
        ncmp_id as record_id,
        cast(null as date) as event_date,
        academic_year,
        centre_code,
        la_code,
        is_placed,
        is_placed as is_recorded

    from measurements

),

items as (

    select * from dated_items
    union all
    select * from measurement_items

)

select * from items
