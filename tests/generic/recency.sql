{#-
    Fails when the most recent value of `field` is older than `interval` `datepart`s before
    now (e.g. datepart 'day', interval 120), or when the model is empty.
-#}
{% test recency(model, field, datepart, interval) %}
{%- set threshold = dbt.dateadd(datepart, -1 * interval, dbt.current_timestamp()) -%}

with

latest as (

    select max(cast({{ field }} as {{ dbt.type_timestamp() }})) as most_recent
    from {{ model }}

),

checked as (

    select
        most_recent,
        cast({{ threshold }} as {{ dbt.type_timestamp() }}) as threshold
    from latest

)

select
    most_recent,
    threshold
from checked
where most_recent is null or most_recent < threshold

{% endtest %}
