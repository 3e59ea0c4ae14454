{#-
    The latest version of each record of a feed table that keeps every version (one row per
    record per extract): extracts are overlapping windows, and the copy from the latest
    extract wins; within one extract the later row wins (docs/raw_zone.md).

    Returns every column of `relation` plus `version_rank` (always 1 in the output).
    A window and a filter rather than `qualify`, which Spark does not have.

    relation:     a CTE name or relation
    partition_by: the record key (one column or a comma-separated list)
    order_by:     which version is latest, first row wins
-#}
{% macro latest_version(relation, partition_by, order_by='extract_date desc, source_row desc') -%}
    select versions.*
    from (
        select
            {{ relation }}.*,
            row_number() over (
                partition by {{ partition_by }}
                order by {{ order_by }}
            ) as version_rank
        from {{ relation }}
    ) as versions
    where versions.version_rank = 1
{%- endmacro %}
