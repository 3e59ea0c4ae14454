{#-
    Every health-visiting review (latest version), placed by the child's postcode when the
    review fell due, and linked to the child's maternity record by pseudonymised NHS number
    so that review indicators break down by mother's age and ethnic group. A review that
    does not link falls in `age_unknown` / `ethnicity_not_known`.
-#}

with

reviews as (

    select * from {{ ref('stg_health_visiting__reviews') }}

),

births as (

    select * from {{ ref('int_births_placed') }}
    where baby_pseudo_id is not null

),

postcodes as (

    select * from {{ ref('int_postcodes_placed') }}

),

ranked_births as (

    -- a child's NHS number should be on one birth record; if a resend or an error puts it
    -- on more than one, the latest delivery speaks for the child
    select
        baby_pseudo_id,
        mother_age_group,
        ethnic_group,
        row_number() over (
            partition by baby_pseudo_id
            order by delivery_date desc, birth_id desc
        ) as birth_rank

    from births

),

child_births as (

    select
        baby_pseudo_id,
        mother_age_group,
        ethnic_group

    from ranked_births
    where birth_rank = 1

),

linked as (

    select
        reviews.review_id,
        reviews.child_pseudo_id,
        reviews.review_type,
        reviews.due_date,
        reviews.contact_date,
        reviews.child_age_days_at_contact,
        reviews.feeding_status,
        postcodes.lsoa_code,
        postcodes.centre_code,
        postcodes.la_code,
        postcodes.imd_quintile,
        child_births.baby_pseudo_id is not null as is_linked_to_birth,
        coalesce(child_births.mother_age_group, 'age_unknown') as mother_age_group,
        coalesce(child_births.ethnic_group, 'ethnicity_not_known') as ethnic_group,
        coalesce(postcodes.is_placed, false) as is_placed

    from reviews
    left join postcodes
        on reviews.child_postcode = postcodes.postcode
    left join child_births
        on reviews.child_pseudo_id = child_births.baby_pseudo_id

)

select * from linked
