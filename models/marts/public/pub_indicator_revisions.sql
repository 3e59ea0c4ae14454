{#-
    The public figures that the latest data change restated: one row per row of
    pub_indicator_values whose figure fct_indicator_revisions marks is_revised, so that the
    newsletter and the public CSV can say that a figure changed and what it was.

    The earlier figure is published as a whole percentage only, and only where both the
    figure now and the earlier one would pass disclosure control on their own: the figure
    is shown now, and neither earlier count is from 1 to 7. Like every public figure it is
    computed from the counts as they would be shown (rounded to 5), so that it tells no
    more than they would. The earlier counts themselves never leave the warehouse.
    Choices and their limits: _public__models.yml.
-#}

with

public_values as (

    select * from {{ ref('pub_indicator_values') }}

),

revisions as (

    select * from {{ ref('fct_indicator_revisions') }}
    where is_revised

),

revised_figures as (

    select
        public_values.indicator_id,
        public_values.area_type,
        public_values.area_code,
        public_values.la_code,
        public_values.period_type,
        public_values.period_label,
        public_values.breakdown,
        revisions.last_revised_at as revised_at,
        case
            when
                not public_values.is_suppressed
                and revisions.previous_value_pct is not null
                and not {{ is_small_count('revisions.previous_numerator') }}
                and not {{ is_small_count('revisions.previous_denominator') }}
                then {{ to_public_percentage(
                    '100 * ' ~ as_double(round_count('revisions.previous_numerator'))
                    ~ ' / ' ~ as_double(round_count('revisions.previous_denominator'))
                ) }}
        end as previous_value_pct

    from public_values
    inner join revisions
        on
            public_values.indicator_id = revisions.indicator_id
            and public_values.area_type = revisions.area_type
            and public_values.area_code = revisions.area_code
            and public_values.period_type = revisions.period_type
            and public_values.period_label = revisions.period_label
            and public_values.breakdown = revisions.breakdown

)

select * from revised_figures
