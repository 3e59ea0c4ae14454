{#-
    Every area the marts report: each children's centre area and each local authority
    (int_areas_joined), and England, whose values come from the benchmark seed.
-#}

with

areas as (

    select * from {{ ref('int_areas_joined') }}

),

local_areas as (

    select
        area_type,
        area_code,
        area_name,
        la_code,
        la_name,
        cast(lsoa_count as {{ dbt.type_bigint() }}) as lsoa_count,
        {{ as_double('mean_imd_decile') }} as mean_imd_decile

    from areas

),

england as (

    select
        'england' as area_type,
        'E92000001' as area_code,
        'England' as area_name,
        cast(null as {{ dbt.type_string() }}) as la_code,
        cast(null as {{ dbt.type_string() }}) as la_name,
        cast(null as {{ dbt.type_bigint() }}) as lsoa_count,
        {{ as_double('null') }} as mean_imd_decile

),

all_areas as (

    select * from local_areas
    union all
    select * from england

)

select * from all_areas
