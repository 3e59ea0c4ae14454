{#-
    The statistics macros against the public check values of shared/specs/indicators.md
    (PHEindicatormethods' own test data) and their edge cases, at full precision with a
    tolerance of 1e-6: returns the name of each check that fails. The unit tests of the
    models check the same values after rounding to the stored 6 decimal places.
-#}

{%- set wilson_cases = [
    ('wilson x=5 n=100 95%', 5, 100, z_95(), 2.154367915, 11.175046923),
    ('wilson x=222 n=3215 95%', 222, 3215, z_95(), 6.079169036, 7.833956681),
    ('wilson x=65 n=100 99.8%', 65, 100, z_998(), 49.549465741, 77.835406141),
    ('wilson x=0 n=40: lower limit 0', 0, 40, z_95(), 0, 8.762160),
    ('wilson x=n=40: upper limit 100', 40, 40, z_95(), 91.237840, 100),
] -%}

{%- set comparison_cases = [
    ('benchmark on the lower limit is similar', 9, 11, 9, 'low_is_good', 'similar'),
    ('benchmark on the upper limit is similar', 9, 11, 11, 'high_is_good', 'similar'),
    ('above a low_is_good benchmark is worse', 9, 11, 8, 'low_is_good', 'worse'),
    ('above a high_is_good benchmark is better', 9, 11, 8, 'high_is_good', 'better'),
    ('below a low_is_good benchmark is better', 9, 11, 12, 'low_is_good', 'better'),
    ('below a high_is_good benchmark is worse', 9, 11, 12, 'high_is_good', 'worse'),
    ('no_judgement says higher', 9, 11, 8, 'no_judgement', 'higher'),
    ('no_judgement says lower', 9, 11, 12, 'no_judgement', 'lower'),
    ('no benchmark is not compared', 9, 11, 'null', 'low_is_good', 'not compared'),
] -%}

{%- set change_cases = [
    ('intervals apart, later above: changed_up', 10.5, 13.5, 7, 10, 'changed_up'),
    ('intervals apart, later below: changed_down', 3, 5.5, 6, 9.9, 'changed_down'),
    ('intervals touching: no_change', 10, 12, 8, 10, 'no_change'),
    ('no earlier interval: not compared', 10, 12, 'null', 'null', 'not compared'),
] -%}

{#- 95% at p0 = 0.1, n = 100: 10 -/+ 1.959963985 * 3; a small n is clipped to 0 and 100 -#}
{%- set funnel_cases = [
    ('funnel 95% at p0 = 0.1, n = 100', 0.1, 100, z_95(), 4.120108045, 15.879891955),
    ('funnel clipped to 0 and 100', 0.5, 1, z_998(), 0, 100),
] -%}

with

checks as (

    {% for name, x, n, z, expected_lower, expected_upper in wilson_cases -%}
    select
        '{{ name }}' as check_name,
        abs({{ wilson_lower(x, n, z) }} - {{ expected_lower }}) <= 1e-6
        and abs({{ wilson_upper(x, n, z) }} - {{ expected_upper }}) <= 1e-6 as is_passed
    union all
    {% endfor -%}

    select
        'wilson n=0: no interval' as check_name,
        {{ wilson_lower(0, 0, z_95()) }} is null
        and {{ wilson_upper(0, 0, z_95()) }} is null as is_passed
    union all

    {% for name, lower, upper, benchmark, polarity, expected in comparison_cases -%}
    select
        '{{ name }}' as check_name,
        {{ compare_with_benchmark(lower, upper, benchmark, "'" ~ polarity ~ "'") }}
        = '{{ expected }}' as is_passed
    union all
    {% endfor -%}

    {% for name, lower_now, upper_now, lower_then, upper_then, expected in change_cases -%}
    select
        '{{ name }}' as check_name,
        {{ change_between(lower_now, upper_now, lower_then, upper_then) }}
        = '{{ expected }}' as is_passed
    union all
    {% endfor -%}

    {% for name, p0, n, z, expected_lower, expected_upper in funnel_cases -%}
    select
        '{{ name }}' as check_name,
        abs({{ funnel_limit(p0, n, z, 'lower') }} - {{ expected_lower }}) <= 1e-6
        and abs({{ funnel_limit(p0, n, z, 'upper') }} - {{ expected_upper }}) <= 1e-6
            as is_passed
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select check_name
from checks
where not coalesce(is_passed, false)
