{#-
    The indicator values that may leave the analysts' warehouse: the newsletter and the
    public CSV read this model, never fct_indicator_values (shared/specs/indicators.md,
    "Disclosure control"). Choices and their reasons are in _public__models.yml.

    1. Primary suppression: a count from 1 to 7 is not shown; a numerator is not shown
       either when its denominator is 1 to 7. A value, its interval and every comparison
       made with it are withheld when either of its counts is.
    2. Secondary suppression: counts add up in two ways, so a single hidden count could be
       recovered as a shown total minus the other shown counts:
         - the centres of a local authority add up to the local authority ('centres');
         - the categories of a breakdown add up to the area's 'all' row ('breakdowns').
       Where exactly one count of such a group is hidden and its total is shown, or its
       hidden counts add up to less than disclosure_least_hidden_sum() (15), so that each
       would be known to be small, the smallest shown non-zero count of the group is
       hidden too (or, where there is none, the total). Hiding one count can expose another group, so this is repeated
       (var disclosure_secondary_rounds); tests/disclosure checks that no group is left
       with one hidden count.
    3. Shown counts are rounded to the nearest 5; percentages, computed from the exact
       counts, are shown as whole numbers.
-#}

{{ period_model() }}

{%- set rounds = var('disclosure_secondary_rounds', 10) -%}
with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}
    -- A quarter alone is too small for a centre, and beside the rolling years it could be
    -- worked back from them (12 months to Q minus 12 months to the quarter before = Q minus
    -- the same quarter a year earlier): quarters stay with the analysts.
    where period_type in ('rolling_12m', 'financial_year', 'academic_year')
    {{- where_touched_periods(keyword='and') }}

),

classified as (

    select
        indicator_id,
        area_type,
        area_code,
        area_name,
        la_code,
        period_type,
        period_label,
        period_start,
        period_end,
        breakdown,
        case
            when breakdown = 'all' then 'all'
            when breakdown in ('mother_under_20', 'mother_20_plus', 'age_unknown')
                then 'mother_age'
            when breakdown in ('bme', 'white', 'ethnicity_not_known') then 'ethnic_group'
            when breakdown like 'imd_q%' then 'imd_quintile'
        end as breakdown_group,
        numerator,
        denominator,
        value_pct,
        lower_95,
        upper_95,
        coverage_pct,
        low_coverage,
        polarity,
        england_value_pct,
        england_period,
        vs_la,
        vs_england,
        year_earlier_period_label,
        change_vs_year_earlier,
        trend,
        target_pct,
        meets_target,
        row_number() over (
            order by indicator_id, area_type, area_code, period_type, period_label, breakdown
        ) as row_id

    from indicator_values

),

-- one row per count (numerator or denominator) of each value, with its primary suppression
cells_0 as (

    select
        2 * row_id as cell_id,
        row_id,
        'numerator' as count_kind,
        numerator as exact_count,
        case
            when {{ is_small_count('denominator') }} then 'small_denominator'
            when {{ is_small_count('numerator') }} then 'small_numerator'
        end as suppression

    from classified

    union all

    select
        2 * row_id + 1 as cell_id,
        row_id,
        'denominator' as count_kind,
        denominator as exact_count,
        case when {{ is_small_count('denominator') }} then 'small_denominator' end
            as suppression

    from classified

),

-- Each value with the rows it adds up to. The groups of counts that add up are numbered
-- from their total's count (the margin; a count's number is 2 * row_id, + 1 for the
-- denominator), so that no text key is built: 4 * margin for the centres of a local
-- authority (margin: the local authority's row); 4 * margin + 1, 2 or 3 for the mother's
-- age, ethnic group and IMD quintile categories of an area (margin: the area's 'all' row).
-- A group without its total could never hide anything, and is left out.
value_margins as (

    select
        members.row_id,
        local_authority.row_id as la_row_id,
        area_all.row_id as all_row_id,
        case members.breakdown_group
            when 'mother_age' then 1
            when 'ethnic_group' then 2
            when 'imd_quintile' then 3
        end as breakdown_group_number

    from classified as members
    left join classified as local_authority
        on
            members.area_type != 'la'
            and local_authority.area_type = 'la'
            and members.la_code = local_authority.la_code
            and members.indicator_id = local_authority.indicator_id
            and members.period_type = local_authority.period_type
            and members.period_label = local_authority.period_label
            and members.breakdown = local_authority.breakdown
    left join classified as area_all
        on
            members.breakdown_group in ('mother_age', 'ethnic_group', 'imd_quintile')
            and area_all.breakdown = 'all'
            and members.area_type = area_all.area_type
            and members.area_code = area_all.area_code
            and members.indicator_id = area_all.indicator_id
            and members.period_type = area_all.period_type
            and members.period_label = area_all.period_label

),

-- which values add up to which, numbered as above: each group's members and its total
row_memberships as (

    -- a centre's value in its local authority's
    select
        la_row_id as margin_row_id,
        0 as group_number,
        row_id,
        false as is_margin
    from value_margins
    where la_row_id is not null

    union all

    -- the local authority's value: the total of its centres
    select distinct
        la_row_id as margin_row_id,
        0 as group_number,
        la_row_id as row_id,
        true as is_margin
    from value_margins
    where la_row_id is not null

    union all

    -- a breakdown category's value in its area's
    select
        all_row_id as margin_row_id,
        breakdown_group_number as group_number,
        row_id,
        false as is_margin
    from value_margins
    where all_row_id is not null

    union all

    -- the area's 'all' value: the total of each breakdown's categories
    select distinct
        all_row_id as margin_row_id,
        breakdown_group_number as group_number,
        all_row_id as row_id,
        true as is_margin
    from value_margins
    where all_row_id is not null

),

count_kinds as (

    select 0 as kind_number
    union all
    select 1 as kind_number

),

-- the same for counts: a numerator adds up with numerators, a denominator with denominators
memberships as (

    select
        4 * (2 * row_memberships.margin_row_id + count_kinds.kind_number)
        + row_memberships.group_number as group_key,
        2 * row_memberships.row_id + count_kinds.kind_number as cell_id,
        row_memberships.is_margin

    from row_memberships
    cross join count_kinds

),

-- Fixed once for each group: the order in which its members are hidden (its non-zero
-- counts, not its total, smallest first; ties in the order of the rows, by area and
-- breakdown), and its state after primary suppression.
ordered_memberships as (

    select
        memberships.group_key,
        memberships.cell_id,
        memberships.is_margin,
        cells_0.exact_count,
        case
            when not memberships.is_margin and cells_0.exact_count > 0
                then row_number() over (
                    partition by memberships.group_key
                    order by cells_0.exact_count asc, cells_0.cell_id asc
                )
        end as hiding_order,
        max(case when memberships.is_margin and cells_0.suppression is null then 1 else 0 end)
            over (partition by memberships.group_key) as primary_margin_shown

    from memberships
    inner join cells_0
        on memberships.cell_id = cells_0.cell_id

),

-- Suppression only ever grows, so a group with its total hidden after primary suppression
-- can never hide anything: the rounds leave such groups out, and a count that is in no
-- other group keeps its primary suppression.
live_memberships as (

    select
        group_key,
        cell_id,
        is_margin,
        exact_count,
        hiding_order

    from ordered_memberships
    where primary_margin_shown = 1

),

-- The rounds (macros/disclosure/secondary_suppression.sql): each hides, in every group whose
-- one hidden count is the shown total minus the other shown counts, its smallest shown
-- non-zero count (or the total), until no group is left so exposed.
{{ secondary_suppression_rounds(rounds) }}

suppressions as (

    select
        cells_0.row_id,
        max(
            case
                when cells_0.count_kind = 'numerator'
                    then coalesce(final_cells.suppression, cells_0.suppression)
            end
        ) as numerator_suppression,
        max(
            case
                when cells_0.count_kind = 'denominator'
                    then coalesce(final_cells.suppression, cells_0.suppression)
            end
        ) as denominator_suppression

    from cells_0
    left join final_cells
        on cells_0.cell_id = final_cells.cell_id
    group by cells_0.row_id

),

shown as (

    select
        classified.indicator_id,
        classified.area_type,
        classified.area_code,
        classified.area_name,
        classified.la_code,
        classified.period_type,
        classified.period_label,
        classified.period_start,
        classified.period_end,
        classified.breakdown,
        classified.breakdown_group,
        case
            when suppressions.numerator_suppression is null
                then {{ round_count('classified.numerator') }}
        end as numerator,
        case
            when suppressions.denominator_suppression is null
                then {{ round_count('classified.denominator') }}
        end as denominator,
        suppressions.numerator_suppression is not null as numerator_suppressed,
        suppressions.denominator_suppression is not null as denominator_suppressed,
        (
            suppressions.numerator_suppression is not null
            or suppressions.denominator_suppression is not null
        ) as is_suppressed,
        coalesce(suppressions.numerator_suppression, suppressions.denominator_suppression)
            as suppression_reason,
        classified.value_pct,
        classified.lower_95,
        classified.upper_95,
        classified.coverage_pct,
        classified.low_coverage,
        classified.polarity,
        classified.england_value_pct,
        classified.england_period,
        classified.vs_la,
        classified.vs_england,
        classified.year_earlier_period_label,
        classified.change_vs_year_earlier,
        classified.trend,
        classified.target_pct,
        classified.meets_target

    from classified
    inner join suppressions
        on classified.row_id = suppressions.row_id

),

local_authority_values as (

    select
        indicator_id,
        la_code,
        period_type,
        period_label,
        breakdown,
        is_suppressed,
        value_pct

    from shown
    where area_type = 'la'

),

-- Each value's public figure, shown beside the value a year later, or NULL where hidden. A
-- quarterly build takes those of the periods it keeps from the published rows: suppression
-- stays within a period, so theirs have not changed.
year_earlier_values as (

    select
        indicator_id,
        area_type,
        area_code,
        breakdown,
        period_type,
        period_label,
        is_suppressed,
        case when not is_suppressed then {{ to_public_percentage('value_pct') }} end as value_pct

    from shown
    {%- if quarterly_build() and is_incremental() %}

    union all

    select
        indicator_id,
        area_type,
        area_code,
        breakdown,
        period_type,
        period_label,
        is_suppressed,
        value_pct

    from {{ this }}
    where
        {{ touched_periods('year_earlier_from') }}
        and not {{ touched_periods() }}
    {%- endif %}

),

published as (

    select
        shown.indicator_id,
        shown.area_type,
        shown.area_code,
        shown.area_name,
        shown.la_code,
        shown.period_type,
        shown.period_label,
        shown.period_start,
        shown.period_end,
        shown.breakdown,
        shown.breakdown_group,
        shown.numerator,
        shown.denominator,
        shown.numerator_suppressed,
        shown.denominator_suppressed,
        shown.is_suppressed,
        shown.suppression_reason,
        case
            when not shown.is_suppressed then {{ to_public_percentage('shown.value_pct') }}
        end as value_pct,
        case
            when not shown.is_suppressed then {{ to_public_percentage('shown.lower_95') }}
        end as lower_95,
        case
            when not shown.is_suppressed then {{ to_public_percentage('shown.upper_95') }}
        end as upper_95,
        case
            when not shown.denominator_suppressed
                then {{ to_public_percentage('shown.coverage_pct') }}
        end as coverage_pct,
        shown.low_coverage,
        shown.polarity,
        case
            when not local_authority.is_suppressed
                then {{ to_public_percentage('local_authority.value_pct') }}
        end as la_value_pct,
        shown.england_value_pct,
        shown.england_period,
        case
            when shown.is_suppressed or local_authority.is_suppressed then 'not compared'
            else shown.vs_la
        end as vs_la,
        case when shown.is_suppressed then 'not compared' else shown.vs_england end
            as vs_england,
        shown.year_earlier_period_label,
        year_earlier.value_pct as year_earlier_value_pct,
        case
            when
                shown.is_suppressed
                or year_earlier.is_suppressed
                or year_earlier.is_suppressed is null
                then 'not compared'
            else shown.change_vs_year_earlier
        end as change_vs_year_earlier,
        case when shown.is_suppressed then 'not compared' else shown.trend end as trend,
        shown.target_pct,
        case when not shown.is_suppressed then shown.meets_target end as meets_target

    from shown
    left join local_authority_values as local_authority
        on
            shown.indicator_id = local_authority.indicator_id
            and shown.la_code = local_authority.la_code
            and shown.period_type = local_authority.period_type
            and shown.period_label = local_authority.period_label
            and shown.breakdown = local_authority.breakdown
    left join year_earlier_values as year_earlier
        on
            shown.indicator_id = year_earlier.indicator_id
            and shown.area_type = year_earlier.area_type
            and shown.area_code = year_earlier.area_code
            and shown.breakdown = year_earlier.breakdown
            and shown.period_type = year_earlier.period_type
            and shown.year_earlier_period_label = year_earlier.period_label

)

select * from published
