{#-
    The indicator values that may leave the analysts' warehouse: the newsletter and the
    public CSV read this model, never fct_indicator_values (shared/specs/indicators.md,
    "Disclosure control"). Choices and their reasons are in _public__models.yml.

    1. Primary suppression: a count from 1 to 7 is not shown; a numerator is not shown
       either when its denominator is 1 to 7. A value, its interval and every comparison
       made with it are withheld when either of its counts is.
    2. Secondary suppression: counts are bound to each other, so a hidden count could be
       worked out, or narrowed, from the shown ones:
         - the centres of a local authority add up to the local authority ('centres');
         - the categories of a breakdown add up to the area's 'all' row ('breakdowns');
         - a count of a nested indicator is at most its partner's (term babies among all
           babies: disclosure_nested_indicators), a group of one under the other.
       Where exactly one count of such a group is hidden and its total is shown, or its
       hidden counts add up to less than disclosure_least_hidden_sum() (15) above what they
       are known to be at least (1 for a denominator), so that each would be known to be
       small, the smallest shown non-zero count of the group is hidden too (or, where there
       is none, the total). Hiding one count can expose
       another group, so this is repeated (var disclosure_secondary_rounds);
       tests/disclosure checks that no group is left with one hidden count, and
       `make audit` what an attacker could work out from everything published.
       Where the audit finds a hidden count still narrowed down after all this, `make
       transform` hides more counts (stg_disclosure__audit_suppressions) and builds this
       model again (src/cc_warehouse/build/disclosure_audit.py, protect).
    3. Shown counts are rounded to the nearest 5, and every published figure (percentage,
       interval, coverage, comparison) is computed from the shown counts, as a whole
       number.
-#}

{{ period_model() }}

{%- set rounds = disclosure_secondary_rounds() -%}
with

indicator_values as (

    select * from {{ ref('fct_indicator_values') }}
    -- A quarter alone is too small for a centre, and beside the rolling years it could be
    -- worked back from them (12 months to Q minus 12 months to the quarter before = Q minus
    -- the same quarter a year earlier): quarters stay with the analysts.
    where period_type in ('rolling_12m', 'financial_year', 'academic_year')
    {{- where_recomputed(keyword='and') }}

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
        units,
        low_coverage,
        polarity,
        england_value_pct,
        england_period,
        year_earlier_period_label,
        trend,
        target_pct,
        row_number() over (
            order by indicator_id, area_type, area_code, period_type, period_label, breakdown
        ) as row_id

    from indicator_values

),

-- Where one indicator's population lies inside another's (term babies among all babies:
-- disclosure_nested_indicators), each is a bound on the other (the smaller's count is at
-- most the larger's), so a hidden count of one beside the shown count of the other is
-- narrowed by it: the pairs of rows, both ways round.
nested_pairs as (

    select
        classified.row_id,
        partner.row_id as partner_row_id

    from classified
    inner join classified as partner
        on
            classified.area_type = partner.area_type
            and classified.area_code = partner.area_code
            and classified.period_type = partner.period_type
            and classified.period_label = partner.period_label
            and classified.breakdown = partner.breakdown
            and (
                {%- for smaller, larger in disclosure_nested_indicators() %}
                {% if not loop.first %}or {% endif -%}
                (
                    classified.indicator_id = '{{ smaller }}'
                    and partner.indicator_id = '{{ larger }}'
                )
                or (
                    classified.indicator_id = '{{ larger }}'
                    and partner.indicator_id = '{{ smaller }}'
                )
                {%- endfor %}
            )

),

-- The counts the disclosure audit hid beyond these rules (disclosure_audit.protect, after a
-- build that left a hidden count it could narrow down): hidden from the start, like a small
-- count, so that the rounds below protect them too. A financial year and the rolling year
-- ending with its fourth quarter are one count, both hidden (matched by their dates).
audit_suppressions as (

    select
        indicator_id,
        area_code,
        breakdown,
        period_start,
        period_end,
        max(case when count_kind = 'numerator' then 1 else 0 end) as numerator_hidden,
        max(case when count_kind = 'denominator' then 1 else 0 end) as denominator_hidden

    from {{ ref('stg_disclosure__audit_suppressions') }}
    group by indicator_id, area_code, breakdown, period_start, period_end

),

audited as (

    select
        classified.row_id,
        classified.numerator,
        classified.denominator,
        coalesce(audit_suppressions.numerator_hidden, 0) as numerator_audit_hidden,
        coalesce(audit_suppressions.denominator_hidden, 0) as denominator_audit_hidden

    from classified
    left join audit_suppressions
        on
            classified.indicator_id = audit_suppressions.indicator_id
            and classified.area_code = audit_suppressions.area_code
            and classified.breakdown = audit_suppressions.breakdown
            and classified.period_start = audit_suppressions.period_start
            and classified.period_end = audit_suppressions.period_end

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
            when numerator_audit_hidden = 1 then 'audit'
        end as suppression

    from audited

    union all

    select
        2 * row_id + 1 as cell_id,
        row_id,
        'denominator' as count_kind,
        denominator as exact_count,
        case
            when {{ is_small_count('denominator') }} then 'small_denominator'
            when denominator_audit_hidden = 1 then 'audit'
        end as suppression

    from audited

),

-- Each value with the rows it adds up to. The groups of counts that add up are numbered
-- from their total's count (the margin; a count's number is 2 * row_id, + 1 for the
-- denominator), so that no text key is built: 8 * margin for the centres of a local
-- authority (margin: the local authority's row); 8 * margin + 1, 2 or 3 for the mother's
-- age, ethnic group and IMD quintile categories of an area (margin: the area's 'all' row);
-- 8 * margin + 4 for a nested indicator's count (margin: its partner's, a group of one
-- member, so that a count hidden in one is hidden in the other).
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

    union all

    -- a nested indicator's value, bounded by its partner's
    select
        partner_row_id as margin_row_id,
        4 as group_number,
        row_id,
        false as is_margin
    from nested_pairs

    union all

    select
        partner_row_id as margin_row_id,
        4 as group_number,
        partner_row_id as row_id,
        true as is_margin
    from nested_pairs

),

count_kinds as (

    select 0 as kind_number
    union all
    select 1 as kind_number

),

-- the same for counts: a numerator adds up with numerators, a denominator with denominators
memberships as (

    select
        8 * (2 * row_memberships.margin_row_id + count_kinds.kind_number)
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
        {{ round_count('classified.units') }} as units,
        suppressions.numerator_suppression is not null as numerator_suppressed,
        suppressions.denominator_suppression is not null as denominator_suppressed,
        (
            suppressions.numerator_suppression is not null
            or suppressions.denominator_suppression is not null
        ) as is_suppressed,
        classified.low_coverage,
        classified.polarity,
        classified.england_value_pct,
        classified.england_period,
        classified.year_earlier_period_label,
        classified.trend,
        classified.target_pct

    from classified
    inner join suppressions
        on classified.row_id = suppressions.row_id

),

-- Every public figure is computed from the shown (rounded) counts, never from the exact
-- ones, so that it tells nobody more than the shown counts do: the value, its interval
-- and coverage here, the comparisons below from these. Withheld with either count.
public_figures as (

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
        breakdown_group,
        numerator,
        denominator,
        numerator_suppressed,
        denominator_suppressed,
        is_suppressed,
        case
            when not is_suppressed
                then {{ to_public_percentage(
                    '100 * ' ~ as_double('numerator') ~ ' / ' ~ as_double('denominator')
                ) }}
        end as value_pct,
        case
            when not is_suppressed
                then {{ to_public_percentage(wilson_lower('numerator', 'denominator', z_95())) }}
        end as lower_95,
        case
            when not is_suppressed
                then {{ to_public_percentage(wilson_upper('numerator', 'denominator', z_95())) }}
        end as upper_95,
        case
            when not denominator_suppressed
                then {{ to_public_percentage(
                    '100 * ' ~ as_double('denominator') ~ ' / nullif(' ~ as_double('units') ~ ', 0)'
                ) }}
        end as coverage_pct,
        low_coverage,
        polarity,
        england_value_pct,
        england_period,
        year_earlier_period_label,
        trend,
        target_pct

    from shown

),

local_authority_values as (

    select
        indicator_id,
        la_code,
        period_type,
        period_label,
        breakdown,
        is_suppressed,
        low_coverage,
        value_pct

    from public_figures
    where area_type = 'la'

),

-- Each value's public figure a year earlier, or NULL where hidden. An incremental build
-- takes those of the periods it keeps from its own rows: suppression stays within a
-- period, so theirs have not changed.
year_earlier_values as (

    select
        indicator_id,
        area_type,
        area_code,
        breakdown,
        period_type,
        period_label,
        is_suppressed,
        low_coverage,
        value_pct,
        lower_95,
        upper_95

    from public_figures
    {%- if recompute_from() and is_incremental() %}

    union all

    select
        indicator_id,
        area_type,
        area_code,
        breakdown,
        period_type,
        period_label,
        is_suppressed,
        low_coverage,
        value_pct,
        lower_95,
        upper_95

    from {{ this }}
    where
        period_end >= cast({{ dbt.dateadd('month', -12, recompute_from()) }} as date)
        and period_end < {{ recompute_from() }}
    {%- endif %}

),

-- The comparisons, made as fct_indicator_values makes them (no significance claimed at low
-- coverage), but from the public figures: anyone can check each word against the numbers
-- shown beside it.
published as (

    select
        figures.indicator_id,
        figures.area_type,
        figures.area_code,
        figures.area_name,
        figures.la_code,
        figures.period_type,
        figures.period_label,
        figures.period_start,
        figures.period_end,
        figures.breakdown,
        figures.breakdown_group,
        figures.numerator,
        figures.denominator,
        figures.numerator_suppressed,
        figures.denominator_suppressed,
        figures.is_suppressed,
        figures.value_pct,
        figures.lower_95,
        figures.upper_95,
        figures.coverage_pct,
        figures.low_coverage,
        figures.polarity,
        local_authority.value_pct as la_value_pct,
        figures.england_value_pct,
        figures.england_period,
        case
            when
                figures.area_type != 'centre'
                or figures.low_coverage
                or coalesce(local_authority.low_coverage, false)
                then 'not compared'
            else {{ compare_with_benchmark(
                'figures.lower_95', 'figures.upper_95',
                'local_authority.value_pct', 'figures.polarity'
            ) }}
        end as vs_la,
        case
            when figures.low_coverage then 'not compared'
            else {{ compare_with_benchmark(
                'figures.lower_95', 'figures.upper_95',
                'figures.england_value_pct', 'figures.polarity'
            ) }}
        end as vs_england,
        figures.year_earlier_period_label,
        year_earlier.value_pct as year_earlier_value_pct,
        case
            when figures.low_coverage or coalesce(year_earlier.low_coverage, false)
                then 'not compared'
            else {{ change_between(
                'figures.lower_95', 'figures.upper_95',
                'year_earlier.lower_95', 'year_earlier.upper_95'
            ) }}
        end as change_vs_year_earlier,
        case when figures.is_suppressed then 'not compared' else figures.trend end as trend,
        figures.target_pct,
        case
            when figures.polarity = 'low_is_good' then figures.value_pct <= figures.target_pct
            when figures.polarity = 'high_is_good' then figures.value_pct >= figures.target_pct
        end as meets_target

    from public_figures as figures
    left join local_authority_values as local_authority
        on
            figures.indicator_id = local_authority.indicator_id
            and figures.la_code = local_authority.la_code
            and figures.period_type = local_authority.period_type
            and figures.period_label = local_authority.period_label
            and figures.breakdown = local_authority.breakdown
    left join year_earlier_values as year_earlier
        on
            figures.indicator_id = year_earlier.indicator_id
            and figures.area_type = year_earlier.area_type
            and figures.area_code = year_earlier.area_code
            and figures.breakdown = year_earlier.breakdown
            and figures.period_type = year_earlier.period_type
            and figures.year_earlier_period_label = year_earlier.period_label

)

select * from published
