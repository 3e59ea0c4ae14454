{#-
    The quarters (and NCMP academic years) whose counts a quarterly build changed, for each
    set of counts kept by quarter (macro quarter_model): 'indicator_cells' (int_indicator_cells)
    and 'return_completeness' (fct_return_completeness). Those models replace these quarters
    only, and int_touched_periods finds the periods to recompute from the first set.

    Only the touched units (int_touched_units) can change a count, so the change of a count is
    the count of their new rows (int_indicator_events, int_return_items) less the count of the
    rows those replaced (both kept by the strategy replace_units, in `<model>__inserted` and
    `<model>__replaced`). A quarter is touched when any count of it changed, in either
    direction: whatever moved a count (a new record, a correction moving a record to another
    quarter or centre, a late link to a birth) is found, and a unit sent again unchanged
    touches nothing.

    Any other build recomputes everything, and this table is empty.
-#}

{%- set cell_keys = [
    'indicator_id', 'quarter_start', 'academic_year', 'centre_code', 'la_code',
    'mother_age_group', 'ethnic_group', 'imd_quintile',
] -%}
{%- set item_columns =
    'feed, item_id, event_date, academic_year, centre_code, la_code, is_placed, is_recorded'
-%}
{%- set item_quarter = 'cast(' ~ dbt.date_trunc('quarter', 'event_date') ~ ' as date)' -%}

with

{% if quarterly_build() %}
{%- set replaced = {} -%}
{%- set inserted = {} -%}
{%- for name in ['int_indicator_events', 'int_return_items'] -%}
    {%- do replaced.update({name: replaced_rows(ref(name))}) -%}
    {%- do inserted.update({name: inserted_rows(ref(name))}) -%}
    {%- for relation in [replaced[name], inserted[name]] -%}
        {#- a query, not adapter.get_relation: dbt's cache does not know the strategy made it -#}
        {%- if execute and run_query(
            "select count(*) from information_schema.tables where table_schema = '"
            ~ relation.schema ~ "' and table_name = '" ~ relation.identifier ~ "'"
        ).columns[0].values()[0] == 0 -%}
            {{ exceptions.raise_compiler_error(
                relation ~ ' is missing: a quarterly build keeps there the rows it replaced and '
                ~ 'inserted in ' ~ name ~ ' (unit_model keep_replaced)'
            ) }}
        {%- endif -%}
    {%- endfor -%}
{%- endfor %}
new_events as (

    select * from {{ inserted['int_indicator_events'] }}

),

old_events as (

    select * from {{ replaced['int_indicator_events'] }}

),

cell_changes as (

    select
        {{ cell_keys | join(',\n        ') }},
        units,
        denominator,
        numerator
    from ({{ indicator_cells('new_events') }}) as new_cells

    union all

    select
        {{ cell_keys | join(',\n        ') }},
        -units as units,
        -denominator as denominator,
        -numerator as numerator
    from ({{ indicator_cells('old_events') }}) as old_cells

),

changed_cells as (

    select
        quarter_start,
        academic_year
    from cell_changes
    group by {{ cell_keys | join(', ') }}
    having sum(units) <> 0 or sum(denominator) <> 0 or sum(numerator) <> 0

),

item_changes as (

    select
        1 as sign,
        {{ item_columns }}
    from {{ inserted['int_return_items'] }}

    union all

    select
        -1 as sign,
        {{ item_columns }}
    from {{ replaced['int_return_items'] }}

),

changed_items as (

    select
        {{ item_quarter }} as quarter_start,
        academic_year
    from item_changes
    where event_date is not null or academic_year is not null
    group by feed, item_id, {{ item_quarter }}, academic_year, centre_code, la_code, is_placed
    having
        sum(sign) <> 0
        or sum(case when is_recorded then sign else 0 end) <> 0

),

touched as (

    select distinct
        'indicator_cells' as counts,
        quarter_start,
        academic_year
    from changed_cells

    union all

    select distinct
        'return_completeness' as counts,
        quarter_start,
        academic_year
    from changed_items

)
{% else %}
touched as (

    select
        cast(null as {{ dbt.type_string() }}) as counts,
        cast(null as date) as quarter_start,
        cast(null as {{ dbt.type_string() }}) as academic_year
    from (select 1 as one) as no_rows
    where false

)
{% endif %}

select * from touched
