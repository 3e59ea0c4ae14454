{#-
    A UK postcode in the form the ONS lookup is matched on: upper case, no whitespace except
    a single space before the last three characters (the inward code): ' so14  0ab' ->
    'SO14 0AB'. Blank gives NULL; a value of three characters or fewer is kept as it is
    (upper case, no spaces), so it stays visible as "not placed" rather than "missing".
    The same rule as the loader's (src/cc_warehouse/ingest/checks.py), so applying it to an
    already normalised postcode changes nothing.
-#}
{% macro normalise_postcode(column_name) -%}
    {%- set compact = "upper(" ~ remove_whitespace(column_name) ~ ")" -%}
    case
        when {{ compact }} = '' then null
        when {{ dbt.length(compact) }} <= 3 then {{ compact }}
        else {{ dbt.concat([
            "substring(" ~ compact ~ ", 1, " ~ dbt.length(compact) ~ " - 3)",
            "' '",
            dbt.right(compact, "3"),
        ]) }}
    end
{%- endmacro %}
