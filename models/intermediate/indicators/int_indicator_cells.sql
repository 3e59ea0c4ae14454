{#-
    Placed units counted at the finest grain the marts need: indicator, quarter (or NCMP
    academic year), centre and every breakdown attribute. Every other count is a sum of
    these cells, so the city always equals the sum of its centres.
-#}

{%- if quarterly_build() %}
-- built after int_touched_periods, which compares the new cells with these (the last build's)
/* depends_on: {{ ref('int_touched_periods') }} */
{%- endif %}

with

events as (

    select * from {{ ref('int_indicator_events') }}

),

cells as (

    {{ indicator_cells('events') }}

)

select * from cells
