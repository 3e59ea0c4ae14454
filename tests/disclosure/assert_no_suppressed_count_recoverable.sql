{#-
    Secondary suppression is complete: no group of counts that adds up to a shown total
    (the centres of a local authority; the categories of a breakdown of one area) has
    exactly one suppressed count, which would be the total minus the other counts.
    Rebuilt from the published flags, independently of the model's rounds. Returns the
    exposed groups.
-#}

with

published as (

    select * from {{ ref('pub_indicator_values') }}

),

counts as (

    select
        indicator_id,
        area_type,
        area_code,
        la_code,
        period_type,
        period_label,
        breakdown,
        breakdown_group,
        'numerator' as count_kind,
        numerator_suppressed as is_suppressed

    from published

    union all

    select
        indicator_id,
        area_type,
        area_code,
        la_code,
        period_type,
        period_label,
        breakdown,
        breakdown_group,
        'denominator' as count_kind,
        denominator_suppressed as is_suppressed

    from published

),

centre_groups as (

    select
        'centres' as relation,
        indicator_id,
        la_code as area_code,
        period_type,
        period_label,
        breakdown,
        count_kind,
        sum(case when area_type = 'centre' and is_suppressed then 1 else 0 end)
            as suppressed_members,
        max(case when area_type = 'la' and not is_suppressed then 1 else 0 end) as total_shown

    from counts
    group by indicator_id, la_code, period_type, period_label, breakdown, count_kind

),

category_counts as (

    select
        indicator_id,
        area_type,
        area_code,
        period_type,
        period_label,
        breakdown_group,
        count_kind,
        sum(case when is_suppressed then 1 else 0 end) as suppressed_members

    from counts
    where breakdown_group != 'all'
    group by
        indicator_id, area_type, area_code, period_type, period_label, breakdown_group, count_kind

),

breakdown_groups as (

    select
        'breakdowns' as relation,
        category_counts.indicator_id,
        category_counts.area_code,
        category_counts.period_type,
        category_counts.period_label,
        category_counts.breakdown_group as breakdown,
        category_counts.count_kind,
        category_counts.suppressed_members,
        case when totals.is_suppressed then 0 else 1 end as total_shown

    from category_counts
    inner join counts as totals
        on
            category_counts.indicator_id = totals.indicator_id
            and category_counts.area_type = totals.area_type
            and category_counts.area_code = totals.area_code
            and category_counts.period_type = totals.period_type
            and category_counts.period_label = totals.period_label
            and category_counts.count_kind = totals.count_kind
            and totals.breakdown = 'all'

),

exposed as (

    select
        relation,
        indicator_id,
        area_code,
        period_type,
        period_label,
        breakdown,
        count_kind

    from centre_groups
    where suppressed_members = 1 and total_shown = 1

    union all

    select
        relation,
        indicator_id,
        area_code,
        period_type,
        period_label,
        breakdown,
        count_kind

    from breakdown_groups
    where suppressed_members = 1 and total_shown = 1

)

select * from exposed
