{#-
    Disclosure control for anything that leaves the analysts' warehouse
    (shared/specs/indicators.md, "Disclosure control"): counts from 1 to the largest
    suppressed count are never shown, other counts are rounded to the nearest multiple of
    the rounding base, and percentages are shown as whole numbers. One place each, used by
    models/marts/public and its tests.
-#}

{#- Counts from 1 to this are suppressed (shown as `*`). -#}
{% macro disclosure_largest_suppressed_count() -%}
    7
{%- endmacro %}

{#-
    Secondary suppression goes on in a group (counts adding up to a shown total) until it
    hides two counts or more adding up to at least this above what they are known to be
    at least (1 for a denominator, whose row exists; 0 for a numerator): with less, the
    hidden counts together are known to be small, and so is each of them. 8 + 7: each
    hidden count could then be anything from the threshold down by 7 as far as the group
    shows.
-#}
{% macro disclosure_least_hidden_sum() -%}
    15
{%- endmacro %}

{#-
    Pairs (smaller, larger) of indicators whose populations are nested, so that the larger
    minus the smaller is a count of its own (babies born before 37 weeks) and each bounds
    the other: secondary suppression hides a count of either wherever the same count of
    the other is hidden. src/cc_warehouse/build/disclosure_audit.py knows the same relation.
-#}
{% macro disclosure_nested_indicators() -%}
    {{ return([('low_birth_weight_term', 'low_birth_weight_all')]) }}
{%- endmacro %}

{#-
    How many rounds of secondary suppression pub_indicator_values runs (var
    disclosure_secondary_rounds). 20 on DuckDB, where a round with nothing left to hide costs
    nothing: the demo city needs 8, the England bench 11 to 12. 10 on Spark, which plans all
    the rounds as one query: twenty took its 4 GB driver out of memory even on a small city.
    Too few rounds never publish an exposed count: assert_no_suppressed_count_recoverable
    then fails the build, and nothing is published.
-#}
{% macro disclosure_secondary_rounds() -%}
    {{ return(var('disclosure_secondary_rounds', 10 if target.type == 'spark' else 20)) }}
{%- endmacro %}

{#- Shown counts are rounded to the nearest multiple of this. -#}
{% macro disclosure_rounding_base() -%}
    5
{%- endmacro %}

{#- True for a count that must not be shown: 1 to the largest suppressed count. -#}
{% macro is_small_count(count) -%}
    ({{ count }} >= 1 and {{ count }} <= {{ disclosure_largest_suppressed_count() }})
{%- endmacro %}

{#-
    A count rounded to the nearest multiple of the rounding base. An integer divided by an
    odd base never lies half-way, so no tie rule is needed: 12 -> 10, 13 -> 15, 0 -> 0.
-#}
{% macro round_count(count) -%}
    cast(
        round({{ as_double(count) }} / {{ disclosure_rounding_base() }})
        * {{ disclosure_rounding_base() }}
        as {{ dbt.type_bigint() }}
    )
{%- endmacro %}

{#- The type of a published percentage: a whole number from 0 to 100. -#}
{% macro type_public_percentage() -%}
    decimal(3, 0)
{%- endmacro %}

{#-
    A percentage as published: the value computed from the exact counts, rounded to a whole
    number (half away from zero). Whole numbers keep the exact counts of small areas from
    being worked back from a value, its interval and a rounded denominator in most cases
    (see _public__models.yml).
-#}
{% macro to_public_percentage(expression) -%}
    cast(round({{ expression }}, 0) as {{ type_public_percentage() }})
{%- endmacro %}
