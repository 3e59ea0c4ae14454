-- The floor of `make bench`: the numerators and denominators of every row of
-- fct_indicator_values (every indicator, area, breakdown and period type), written by hand
-- as one DuckDB query straight over the raw zone (and the three code-list seeds it needs),
-- with no statistics. It is what the dbt models must at least do; `make bench` divides their
-- run time by this query's. tests/python/test_bench.py checks that its rows equal the mart's.
--
-- It repeats the models' rules (docs/raw_zone.md, shared/specs/indicators.md): the latest
-- version of each record wins, postcodes normalised and placed through the LSOA lookups,
-- births counted per baby and deliveries once, reviews linked to the child's birth record,
-- NCMP BMI centiles from the UK90 LMS reference. Change a rule there, change it here.

-- The contract's normal form of a postcode (macros/normalise_postcode.sql).
create or replace temp macro normalise_postcode(raw_postcode) as (
    case
        when regexp_replace(upper(raw_postcode), '\s', '', 'g') = '' then null
        when length(regexp_replace(upper(raw_postcode), '\s', '', 'g')) <= 3
            then regexp_replace(upper(raw_postcode), '\s', '', 'g')
        else
            substring(
                regexp_replace(upper(raw_postcode), '\s', '', 'g'), 1,
                length(regexp_replace(upper(raw_postcode), '\s', '', 'g')) - 3
            )
            || ' ' || right(regexp_replace(upper(raw_postcode), '\s', '', 'g'), 3)
    end
);

-- Completed years between two dates (macros/cross_db/whole_years_between.sql).
create or replace temp macro whole_years_between(start_date, end_date) as (
    year(end_date) - year(start_date)
    - case
        when month(end_date) * 100 + day(end_date) < month(start_date) * 100 + day(start_date)
            then 1
        else 0
    end
);

-- The September-to-August school year of a date, '2023/24'.
create or replace temp macro academic_year_label(any_date) as (
    cast(year(any_date) - case when month(any_date) < 9 then 1 else 0 end as varchar)
    || '/'
    || right(cast(year(any_date) - case when month(any_date) < 9 then 1 else 0 end + 1 as varchar), 2)
);

with

postcodes as (
    select
        normalise_postcode(postcode) as postcode,
        lsoa_code
    from raw.postcode_lsoa
    where postcode is not null
    qualify row_number() over (
        partition by normalise_postcode(postcode) order by loaded_at desc, source_row desc
    ) = 1
),

lsoa_centres as (
    select
        lsoa_code,
        centre_code,
        la_code
    from raw.lsoa_centre
    where lsoa_code is not null
    qualify row_number() over (
        partition by lsoa_code order by loaded_at desc, source_row desc
    ) = 1
),

lsoa_imd as (
    select
        lsoa_code,
        cast(ceil(imd_decile / 2.0) as integer) as imd_quintile
    from raw.lsoa_imd
    where lsoa_code is not null
    qualify row_number() over (
        partition by lsoa_code order by loaded_at desc, source_row desc
    ) = 1
),

placements as (
    select
        postcodes.postcode,
        lsoa_centres.centre_code,
        lsoa_centres.la_code,
        lsoa_imd.imd_quintile,
        coalesce(
            lsoa_centres.centre_code is not null and lsoa_centres.la_code is not null, false
        ) as is_placed
    from postcodes
    left join lsoa_centres on postcodes.lsoa_code = lsoa_centres.lsoa_code
    left join lsoa_imd on postcodes.lsoa_code = lsoa_imd.lsoa_code
),

births as (
    select
        birth_id,
        delivery_id,
        baby_pseudo_id,
        mother_ethnic_category,
        delivery_date,
        delivery_method,
        smoking_at_delivery,
        breastfeeding_initiated,
        live_birth,
        gestation_weeks,
        birth_weight_grams,
        extract_date,
        source_row,
        normalise_postcode(mother_postcode) as mother_postcode,
        case
            when whole_years_between(mother_birth_date, delivery_date) < 20 then 'mother_under_20'
            when whole_years_between(mother_birth_date, delivery_date) >= 20 then 'mother_20_plus'
            else 'age_unknown'
        end as mother_age_group
    from raw.maternity
    qualify row_number() over (
        partition by birth_id order by extract_date desc, source_row desc
    ) = 1
),

births_placed as (
    select
        births.*,
        placements.centre_code,
        placements.la_code,
        placements.imd_quintile,
        coalesce(ethnic_category.ethnic_group, 'ethnicity_not_known') as ethnic_group,
        coalesce(placements.is_placed, false) as is_placed
    from births
    left join placements on births.mother_postcode = placements.postcode
    left join main.ethnic_category
        on births.mother_ethnic_category = ethnic_category.ethnic_category
),

deliveries as (
    select
        delivery_date,
        centre_code,
        la_code,
        imd_quintile,
        mother_age_group,
        ethnic_group,
        is_placed,
        smoking_at_delivery,
        breastfeeding_initiated,
        delivery_method,
        case
            when live_births > 0 then true
            when babies_with_known_outcome = babies then false
        end as has_live_birth
    from (
        select
            *,
            count(*) over delivery as babies,
            sum(case when live_birth = 'Y' then 1 else 0 end) over delivery as live_births,
            count(live_birth) over delivery as babies_with_known_outcome
        from births_placed
        window delivery as (partition by delivery_id)
    )
    qualify row_number() over (
        partition by delivery_id order by extract_date desc, source_row desc, birth_id desc
    ) = 1
),

child_births as (
    select
        baby_pseudo_id,
        mother_age_group,
        ethnic_group
    from births_placed
    where baby_pseudo_id is not null
    qualify row_number() over (
        partition by baby_pseudo_id order by delivery_date desc, birth_id desc
    ) = 1
),

reviews as (
    select
        review_type,
        due_date,
        feeding_status,
        child_pseudo_id,
        normalise_postcode(child_postcode) as child_postcode
    from raw.health_visiting
    qualify row_number() over (
        partition by review_id order by extract_date desc, source_row desc
    ) = 1
),

measurements as (
    select
        ncmp.school_year,
        coalesce(ncmp.academic_year, academic_year_label(ncmp.measurement_date)) as academic_year,
        ncmp.sex,
        ncmp.ethnic_category,
        ncmp.measurement_date is not null
        and ncmp.height_cm is not null
        and ncmp.weight_kg is not null
        and ncmp.sex is not null
        and ncmp.birth_date is not null
        and date_diff('day', ncmp.birth_date, ncmp.measurement_date) >= 1461
        and date_diff('day', ncmp.birth_date, ncmp.measurement_date) < 5113.5
        and ncmp.weight_kg / ((ncmp.height_cm / 100.0) * (ncmp.height_cm / 100.0)) >= 8
        and ncmp.weight_kg / ((ncmp.height_cm / 100.0) * (ncmp.height_cm / 100.0)) <= 50
            as has_valid_bmi_centile,
        ncmp.weight_kg / ((ncmp.height_cm / 100.0) * (ncmp.height_cm / 100.0)) as bmi,
        cast(date_diff('day', ncmp.birth_date, ncmp.measurement_date) * 12 as double) / 365.25
            as age_months,
        normalise_postcode(ncmp.child_postcode) as child_postcode
    from raw.ncmp
    qualify row_number() over (
        partition by ncmp_id order by extract_date desc, source_row desc
    ) = 1
),

measurements_z as (
    select
        measurements.school_year,
        measurements.academic_year,
        measurements.ethnic_category,
        measurements.child_postcode,
        coalesce(measurements.has_valid_bmi_centile, false) as has_valid_bmi_centile,
        case
            when not measurements.has_valid_bmi_centile then null
            when lms.l = 0 then ln(measurements.bmi / lms.m) / lms.s
            else (power(measurements.bmi / lms.m, lms.l) - 1) / (lms.l * lms.s)
        end as bmi_z
    from measurements
    left join lateral (
        select
            lower_point.l + (upper_point.l - lower_point.l)
            * (measurements.age_months - lower_point.age_months) as l,
            lower_point.m + (upper_point.m - lower_point.m)
            * (measurements.age_months - lower_point.age_months) as m,
            lower_point.s + (upper_point.s - lower_point.s)
            * (measurements.age_months - lower_point.age_months) as s
        from main.uk90_bmi_lms as lower_point
        inner join main.uk90_bmi_lms as upper_point
            on lower_point.sex = upper_point.sex
        where
            lower_point.sex = measurements.sex
            and lower_point.age_months = floor(measurements.age_months)
            and upper_point.age_months = ceil(measurements.age_months)
    ) as lms on measurements.has_valid_bmi_centile
),

-- every counted unit: (indicator, date or academic year, placement, breakdown groups, counts)
events as (
    select
        indicator.indicator_id,
        births_placed.delivery_date as event_date,
        cast(null as varchar) as academic_year,
        births_placed.centre_code,
        births_placed.la_code,
        births_placed.imd_quintile,
        births_placed.mother_age_group,
        births_placed.ethnic_group,
        births_placed.is_placed,
        births_placed.birth_weight_grams is not null as is_in_denominator,
        coalesce(births_placed.birth_weight_grams < 2500, false) as is_in_numerator
    from births_placed
    inner join (values ('low_birth_weight_term', 37), ('low_birth_weight_all', 0))
        as indicator (indicator_id, min_gestation)
        on indicator.min_gestation = 0 or births_placed.gestation_weeks >= indicator.min_gestation
    where births_placed.live_birth = 'Y'

    union all

    select
        indicator.indicator_id,
        deliveries.delivery_date,
        null,
        deliveries.centre_code,
        deliveries.la_code,
        deliveries.imd_quintile,
        deliveries.mother_age_group,
        deliveries.ethnic_group,
        deliveries.is_placed,
        case indicator.indicator_id
            when 'normal_delivery' then delivery_method.is_spontaneous is not null
            when 'smoking_at_delivery' then deliveries.smoking_at_delivery in ('Y', 'N')
            else deliveries.breastfeeding_initiated in ('Y', 'N')
        end,
        case indicator.indicator_id
            when 'normal_delivery' then coalesce(delivery_method.is_spontaneous, false)
            when 'smoking_at_delivery' then deliveries.smoking_at_delivery = 'Y'
            else deliveries.breastfeeding_initiated = 'Y'
        end
    from deliveries
    left join main.delivery_method
        on deliveries.delivery_method = delivery_method.delivery_method
    inner join (
        values ('normal_delivery'), ('smoking_at_delivery'), ('breastfeeding_initiation')
    ) as indicator (indicator_id)
        on indicator.indicator_id != 'breastfeeding_initiation' or deliveries.has_live_birth

    union all

    select
        case reviews.review_type
            when 'NBV' then 'breastfeeding_nbv' else 'breastfeeding_6_8_weeks'
        end,
        reviews.due_date,
        null,
        placements.centre_code,
        placements.la_code,
        placements.imd_quintile,
        coalesce(child_births.mother_age_group, 'age_unknown'),
        coalesce(child_births.ethnic_group, 'ethnicity_not_known'),
        coalesce(placements.is_placed, false),
        reviews.feeding_status is not null,
        coalesce(reviews.feeding_status in ('TOTAL', 'PARTIAL'), false)
    from reviews
    left join placements on reviews.child_postcode = placements.postcode
    left join child_births on reviews.child_pseudo_id = child_births.baby_pseudo_id
    where reviews.review_type in ('NBV', '6-8W')

    union all

    select
        indicator.indicator_id,
        null,
        measurements_z.academic_year,
        placements.centre_code,
        placements.la_code,
        placements.imd_quintile,
        null,
        coalesce(ethnic_category.ethnic_group, 'ethnicity_not_known'),
        coalesce(placements.is_placed, false),
        measurements_z.has_valid_bmi_centile,
        coalesce(
            measurements_z.has_valid_bmi_centile and measurements_z.bmi_z >= indicator.z_threshold,
            false
        )
    from measurements_z
    inner join (
        values
            ('reception_obesity', 'R', 1.6448536269514727e0),
            ('reception_overweight_obese', 'R', 1.0364333894937896e0),
            ('year6_obesity', '6', 1.6448536269514727e0)
    ) as indicator (indicator_id, school_year, z_threshold)
        on measurements_z.school_year = indicator.school_year
    left join placements on measurements_z.child_postcode = placements.postcode
    left join main.ethnic_category
        on measurements_z.ethnic_category = ethnic_category.ethnic_category
    where measurements_z.academic_year is not null
),

-- placed units summed at the finest grain: a quarter or an academic year, a centre and
-- every breakdown group
cells as (
    select
        indicator_id,
        cast(date_trunc('quarter', event_date) as date) as quarter_start,
        academic_year,
        centre_code,
        la_code,
        mother_age_group,
        ethnic_group,
        imd_quintile,
        count(*) filter (where is_in_denominator) as denominator,
        count(*) filter (where is_in_denominator and is_in_numerator) as numerator
    from events
    where is_placed
    group by all
),

data_range as (
    select
        min(cast(date_trunc('quarter', event_date) as date)) as first_quarter,
        max(cast(date_trunc('quarter', event_date) as date)) as last_quarter
    from events
),

quarters as (
    select
        cast(quarter_start as date) as quarter_start,
        year(quarter_start) - case when month(quarter_start) < 4 then 1 else 0 end as fy,
        data_range.first_quarter
    from data_range,
        range(data_range.first_quarter, data_range.last_quarter + interval 1 day, interval 3 month)
            as spine (quarter_start)
),

quarter_labels as (
    select
        quarter_start,
        first_quarter,
        fy,
        cast(fy as varchar) || '/' || right(cast(fy + 1 as varchar), 2) as fy_label,
        cast(fy as varchar) || '/' || right(cast(fy + 1 as varchar), 2)
        || ' Q' || cast(cast(floor(((month(quarter_start) + 8) % 12) / 3) + 1 as integer) as varchar)
            as quarter_label
    from quarters
),

-- which periods each quarter's cells count in: the quarter, the rolling 12 months ending in
-- it and the three quarters after it, and its financial year
quarter_periods as (
    select distinct
        cell_quarter.quarter_start,
        period.period_type,
        period.period_label,
        period.period_start,
        period.period_end
    from quarter_labels as cell_quarter
    inner join (
        select
            'quarter' as period_type,
            quarter_label as period_label,
            quarter_start as period_start,
            cast(quarter_start + interval 3 month - interval 1 day as date) as period_end
        from quarter_labels
        union all
        select
            'rolling_12m',
            '12 months to ' || quarter_label,
            cast(quarter_start - interval 9 month as date),
            cast(quarter_start + interval 3 month - interval 1 day as date)
        from quarter_labels
        where quarter_start - interval 9 month >= first_quarter
        union all
        select
            'financial_year',
            fy_label,
            make_date(fy, 4, 1),
            make_date(fy + 1, 3, 31)
        from quarter_labels
    ) as period
        on cell_quarter.quarter_start between period.period_start and period.period_end
),

cells_in_periods as (
    select
        cells.*,
        quarter_periods.period_type,
        quarter_periods.period_label
    from cells
    inner join quarter_periods on cells.quarter_start = quarter_periods.quarter_start
    union all
    select
        cells.*,
        'academic_year',
        cells.academic_year
    from cells
    where cells.academic_year is not null
),

counts as (
    select
        cells_in_periods.indicator_id,
        area.area_type,
        case area.area_type
            when 'centre' then cells_in_periods.centre_code else cells_in_periods.la_code
        end as area_code,
        cells_in_periods.la_code,
        cells_in_periods.period_type,
        cells_in_periods.period_label,
        breakdown.breakdown,
        sum(cells_in_periods.numerator) as numerator,
        sum(cells_in_periods.denominator) as denominator
    from cells_in_periods
    cross join (values ('centre'), ('la')) as area (area_type)
    cross join lateral (
        select 'all' as breakdown
        union all
        select cells_in_periods.mother_age_group
        where cells_in_periods.mother_age_group is not null
        union all
        select cells_in_periods.ethnic_group
        union all
        select 'imd_q' || cast(cells_in_periods.imd_quintile as varchar)
        where cells_in_periods.imd_quintile is not null
    ) as breakdown
    group by all
    having sum(cells_in_periods.denominator) > 0
)

select
    indicator_id,
    area_type,
    area_code,
    period_type,
    period_label,
    breakdown,
    cast(numerator as bigint) as numerator,
    cast(denominator as bigint) as denominator
from counts
