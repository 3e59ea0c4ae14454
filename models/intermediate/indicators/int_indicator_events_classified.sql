{#-
    One row per counted unit per indicator (shared/specs/indicators.md): the unit belongs to
    the indicator's population (`units`: e.g. deliveries), is in its denominator when the
    outcome is known or recorded, and in its numerator when the outcome occurred. Unplaced
    units stay here, flagged, so that nothing is dropped silently; counts use placed units.
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

{#- The maternity and health-visiting indicators differ only in these parts. -#}
{%- set indicators = [
    {'id': 'low_birth_weight_term', 'units': 'births', 'key': 'birth_id',
     'date': 'delivery_date', 'population': 'is_live_birth and gestation_weeks >= 37',
     'known': 'birth_weight_grams is not null', 'outcome': 'birth_weight_grams < 2500'},
    {'id': 'low_birth_weight_all', 'units': 'births', 'key': 'birth_id',
     'date': 'delivery_date', 'population': 'is_live_birth',
     'known': 'birth_weight_grams is not null', 'outcome': 'birth_weight_grams < 2500'},
    {'id': 'normal_delivery', 'units': 'deliveries', 'key': 'delivery_id',
     'date': 'delivery_date', 'population': 'true',
     'known': 'is_spontaneous_delivery is not null', 'outcome': 'is_spontaneous_delivery'},
    {'id': 'smoking_at_delivery', 'units': 'deliveries', 'key': 'delivery_id',
     'date': 'delivery_date', 'population': 'true',
     'known': 'is_smoker_at_delivery is not null', 'outcome': 'is_smoker_at_delivery'},
    {'id': 'breastfeeding_initiation', 'units': 'deliveries', 'key': 'delivery_id',
     'date': 'delivery_date', 'population': 'has_live_birth',
     'known': 'is_breastfeeding_initiated is not null',
     'outcome': 'is_breastfeeding_initiated'},
    {'id': 'breastfeeding_nbv', 'units': 'reviews', 'key': 'review_id',
     'date': 'due_date', 'population': "review_type = 'NBV'",
     'known': 'feeding_status is not null',
     'outcome': "feeding_status in ('TOTAL', 'PARTIAL')"},
    {'id': 'breastfeeding_6_8_weeks', 'units': 'reviews', 'key': 'review_id',
     'date': 'due_date', 'population': "review_type = '6-8W'",
     'known': 'feeding_status is not null',
     'outcome': "feeding_status in ('TOTAL', 'PARTIAL')"},
] -%}

{% for indicator in indicators %}
{{ indicator.id }} as (

    select
        '{{ indicator.id }}' as indicator_id,
        {{ indicator.key }} as unit_id,
        {{ indicator.date }} as event_date,
        cast(null as {{ dbt.type_string() }}) as academic_year,
        lsoa_code,
        centre_code,
        la_code,
        imd_quintile,
        mother_age_group,
        ethnic_group,
        is_placed,
        {{ indicator.known }} as is_in_denominator,
        coalesce({{ indicator.outcome }}, false) as is_in_numerator

    from {{ indicator.units }}
    where {{ indicator.population }}

),

{% endfor %}
ncmp_indicators as (

    select
        'reception_obesity' as indicator_id,
        'R' as school_year,
        'is_obese' as outcome
    union all
    select
        'reception_overweight_obese' as indicator_id,
        'R' as school_year,
        'is_overweight_or_obese' as outcome
    union all
    select
        'year6_obesity' as indicator_id,
        '6' as school_year,
        'is_obese' as outcome

),

child_measurements as (

    select
        ncmp_indicators.indicator_id,
        measurements.ncmp_id as unit_id,
        cast(null as date) as event_date,
        measurements.academic_year,
        measurements.lsoa_code,
        measurements.centre_code,
        measurements.la_code,
        measurements.imd_quintile,
        -- the mother's age does not apply to school children
        cast(null as {{ dbt.type_string() }}) as mother_age_group,
        measurements.ethnic_group,
        measurements.is_placed,
        coalesce(measurements.has_valid_bmi_centile, false) as is_in_denominator,
        coalesce(
            measurements.has_valid_bmi_centile
            and case ncmp_indicators.outcome
                when 'is_obese' then measurements.is_obese
                else measurements.is_overweight_or_obese
            end,
            false
        ) as is_in_numerator

    from measurements
    inner join ncmp_indicators
        on measurements.school_year = ncmp_indicators.school_year
    where measurements.academic_year is not null

),

unioned as (

    {% for indicator in indicators %}
    select * from {{ indicator.id }}
    union all
    {% endfor %}
    select * from child_measurements

)

select * from unioned
