{#-
    One row per indicator: the metadata seed, typed, with the sentence the newsletter builds
    for parents ('About 7 in every 100 mums were smoking when their baby was born.').
-#}

with

indicators as (

    select * from {{ ref('indicator_metadata') }}

),

described as (

    select
        cast(indicator_id as {{ dbt.type_string() }}) as indicator_id,
        cast(display_order as {{ dbt.type_int() }}) as display_order,
        cast(indicator_name as {{ dbt.type_string() }}) as indicator_name,
        cast(plain_name as {{ dbt.type_string() }}) as plain_name,
        cast(parent_subject as {{ dbt.type_string() }}) as parent_subject,
        cast(parent_outcome as {{ dbt.type_string() }}) as parent_outcome,
        {{ dbt.concat([
            "'About {n} in every 100 '",
            "parent_subject",
            "' '",
            "parent_outcome",
            "'.'",
        ]) }} as parent_sentence_template,
        cast(feed as {{ dbt.type_string() }}) as feed,
        cast(unit_counted as {{ dbt.type_string() }}) as unit_counted,
        cast(denominator_definition as {{ dbt.type_string() }}) as denominator_definition,
        cast(numerator_definition as {{ dbt.type_string() }}) as numerator_definition,
        cast(polarity as {{ dbt.type_string() }}) as polarity,
        cast(fingertips_id as {{ dbt.type_string() }}) as fingertips_id,
        cast(period_types as {{ dbt.type_string() }}) as period_types,
        {{ to_percentage('coverage_threshold_pct') }} as coverage_threshold_pct,
        cast(method_notes as {{ dbt.type_string() }}) as method_notes

    from indicators

)

select * from described
