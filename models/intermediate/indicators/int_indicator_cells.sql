{#-
    Placed units counted at the finest grain the marts need: indicator, quarter (or NCMP
    academic year), centre and every breakdown attribute. Every other count is a sum of
    these cells, so the city always equals the sum of its centres. A quarterly build
    recounts the quarters whose cells changed (int_touched_quarters) from every event of
    those quarters.
-#}

{%- set quarter = 'cast(' ~ dbt.date_trunc('quarter', 'event_date') ~ ' as date)' -%}
{{ quarter_model('indicator_cells', 'quarter_start', 'academic_year') }}

with

events as (

    select * from {{ ref('int_indicator_events') }}
    {{- where_touched_quarters('indicator_cells', quarter, 'academic_year') }}

),

cells as (

    {{ indicator_cells('events') }}

)

select * from cells
