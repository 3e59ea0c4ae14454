{#-
    The units (births, deliveries, reviews, NCMP measurements) whose rows a quarterly build
    recomputes in the models kept by unit (macro unit_model): every unit that a record loaded
    since the last build can change (docs/incremental.md).

    - a birth whose latest version was loaded since (a record whose new row lost to an older
      version is unchanged, so not touched);
    - every delivery any version of such a birth belongs to: its new delivery, and the one a
      corrected record left (which may now have no baby);
    - a review whose latest version was loaded since, or whose child has the NHS number of any
      version of a touched birth (its link to the birth, and the mother's age and ethnic group
      it takes from there, may have changed);
    - a measurement whose latest version was loaded since.

    Any other build recomputes everything, and this table is empty.
-#}

with

{% if quarterly_build() %}
touched_births as (

    select birth_id from {{ ref('stg_maternity__births') }}
    where loaded_at > {{ last_build_loaded_until() }}

),

versions_of_touched_births as (

    select
        delivery_id,
        baby_pseudo_id

    from {{ source('maternity', 'maternity') }}
    where birth_id in (select birth_id from touched_births)

),

touched_reviews as (

    select review_id from {{ ref('stg_health_visiting__reviews') }}
    where
        loaded_at > {{ last_build_loaded_until() }}
        or child_pseudo_id in (
            select baby_pseudo_id from versions_of_touched_births
            where baby_pseudo_id is not null
        )

),

touched_measurements as (

    select ncmp_id from {{ ref('stg_ncmp__measurements') }}
    where loaded_at > {{ last_build_loaded_until() }}

),

units as (

    select distinct
        'birth' as unit_type,
        birth_id as unit_id
    from touched_births

    union all

    select distinct
        'delivery' as unit_type,
        delivery_id as unit_id
    from versions_of_touched_births

    union all

    select distinct
        'review' as unit_type,
        review_id as unit_id
    from touched_reviews

    union all

    select distinct
        'measurement' as unit_type,
        ncmp_id as unit_id
    from touched_measurements

)
{% else %}
units as (

    select
        cast(null as {{ dbt.type_string() }}) as unit_type,
        cast(null as {{ dbt.type_string() }}) as unit_id
    from (select 1 as one) as no_rows
    where false

)
{% endif %}

select * from units
