{#-
    The rounds of secondary suppression in models/marts/public/pub_indicator_values.sql.
    They read two of the model's CTEs: `cells_0` (cell_id, suppression: every count with its
    primary suppression) and `live_memberships` (group_key, cell_id, is_margin,
    hiding_order: the groups that can still hide something). They end with the CTE
    `final_cells` (cell_id, suppression): the counts hidden after the last round (and, on
    Spark, the shown counts of the live groups too, with a NULL suppression).

    Both versions give the same result; they differ in what each round reads. A group can
    act (hide one more count) only after one of its counts was hidden in the previous round,
    because suppression only grows and a group that acts is done with its next round.
    - DuckDB: each round reads only the groups touched by the counts the previous round
      hid (the first round: the groups with a count hidden by primary suppression; later
      rounds far fewer), and the hidden counts so far. The model's rounds went from about
      15 to 2 s of thread time at region scale, where they had been 70% of the model; the
      whole model from 293 to 156 s in the England build.
    - Spark inlines every CTE at each of its references, so a round may read the previous
      one only once: each round there reads the state of every count of every live group.
-#}

{% macro secondary_suppression_rounds(rounds) -%}
    {{ return(adapter.dispatch('secondary_suppression_rounds', 'childrens_centres')(rounds)) }}
{%- endmacro %}

{#-
    What a group's member hides, or NULL, from the group's state (window columns of the
    round): a group whose one hidden count is the shown total minus the other shown counts,
    or whose hidden counts add up to less than disclosure_least_hidden_sum() above what
    they are known to be at least (so that each is known to be small), hides its smallest
    shown non-zero count too or, where there is none (the others are all 0), the total
    itself.
-#}
{% macro secondary_suppression_reason() -%}
    case
        when margin_shown != 1 or suppressed_members = 0 then null
        when
            suppressed_members > 1
            and hidden_sum >= {{ disclosure_least_hidden_sum() }}
            then null
        when hiding_order = next_to_hide and group_key % 8 = 0 then 'secondary_centres'
        when hiding_order = next_to_hide then 'secondary_breakdowns'
        when is_margin and next_to_hide is null then 'secondary_total'
    end
{%- endmacro %}

{#-
    The state of a member's group after the previous round: its hidden members, whether its
    total shows, and its next count to hide.
-#}
{% macro secondary_suppression_group_state(cells) -%}
        sum(
            case
                when not live_memberships.is_margin and {{ cells }}.suppression is not null then 1
                else 0
            end
        ) over (partition by live_memberships.group_key) as suppressed_members,
        max(
            case when live_memberships.is_margin and {{ cells }}.suppression is null then 1 else 0 end
        ) over (partition by live_memberships.group_key) as margin_shown,
        min(case when {{ cells }}.suppression is null then live_memberships.hiding_order end)
            over (partition by live_memberships.group_key) as next_to_hide,
        -- what the hidden counts add up to above what anyone knows they are at least: a
        -- hidden denominator is at least 1 (its row exists; a count's id is odd for a
        -- denominator), a numerator at least 0
        sum(
            case
                when not live_memberships.is_margin and {{ cells }}.suppression is not null
                    then live_memberships.exact_count - live_memberships.cell_id % 2
                else 0
            end
        ) over (partition by live_memberships.group_key) as hidden_sum
{%- endmacro %}

{% macro default__secondary_suppression_rounds(rounds) %}
-- the counts hidden so far, with the round that hid them (0: primary suppression)
hidden_0 as (

    select
        cell_id,
        suppression,
        0 as hidden_round

    from cells_0
    where suppression is not null

),
{% for round_number in range(1, rounds + 1) %}
{%- set previous = round_number - 1 %}

-- the groups of the counts the previous round hid: the only ones that can act now
touched_{{ round_number }} as (

    select distinct live_memberships.group_key

    from live_memberships
    inner join hidden_{{ previous }} as hidden
        on live_memberships.cell_id = hidden.cell_id
    where hidden.hidden_round = {{ previous }}

),

members_{{ round_number }} as (

    select
        live_memberships.cell_id,
        live_memberships.group_key,
        live_memberships.is_margin,
        live_memberships.hiding_order,
        {{ secondary_suppression_group_state('hidden') }}

    from live_memberships
    inner join touched_{{ round_number }} as touched
        on live_memberships.group_key = touched.group_key
    left join hidden_{{ previous }} as hidden
        on live_memberships.cell_id = hidden.cell_id

),

-- A count hidden by two groups in the same round takes the first reason.
hidden_{{ round_number }} as (

    select
        cell_id,
        suppression,
        hidden_round

    from hidden_{{ previous }}

    union all

    select
        cell_id,
        suppression,
        {{ round_number }} as hidden_round

    from (
        select
            cell_id,
            min({{ secondary_suppression_reason() }}) as suppression

        from members_{{ round_number }}
        group by cell_id
    ) as chosen
    where suppression is not null

),
{% endfor %}

final_cells as (

    select
        cell_id,
        suppression

    from hidden_{{ rounds }}

),
{%- endmacro %}

{% macro spark__secondary_suppression_rounds(rounds) %}
{% for round_number in range(1, rounds + 1) %}
{%- set previous = 'cells_' ~ (round_number - 1) %}

-- every live membership of every count, with the state of its group after the previous round
members_{{ round_number }} as (

    select
        live_memberships.cell_id,
        live_memberships.group_key,
        live_memberships.is_margin,
        live_memberships.hiding_order,
        cells.suppression,
        {{ secondary_suppression_group_state('cells') }}

    from live_memberships
    inner join {{ previous }} as cells
        on live_memberships.cell_id = cells.cell_id

),

cells_{{ round_number }} as (

    select
        cell_id,
        coalesce(min(suppression), min({{ secondary_suppression_reason() }})) as suppression

    from members_{{ round_number }}
    group by cell_id

),
{% endfor %}

final_cells as (

    select
        cell_id,
        suppression

    from cells_{{ rounds }}

),
{%- endmacro %}
