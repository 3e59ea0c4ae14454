{#-
    trend_chi_square against the public test series of Fingertips' trend marker calculator
    (its open-source TrendMarkerCalculator). Each series is written oldest year first, with
    the chi-square value and the marker its tests assert:

    - ukhsa-collaboration/fingertips-open, PholioVisualisationWS/AnalysisTest/
      TrendMarkerCalculatorTest.cs: GetTrendDataForProportion_Set1 (chi2 47.9, significant;
      rising) and GetTrendData_Set2 (not significant);
    - the same repository, AnalysisTest/WhenUsingTrendMarkerCalculator.cs: TrendData_3's
      last five years 2009-2013 (chi2 23.554, increasing), TrendData_4's years 2007-2011 (chi2
      13.763; the test asserts increasing: 4.5%, 8%, 16%, 14.3%, 20%), TrendData_5 (chi2 0.018,
      no change) and TrendData_5a (chi2 978.2845, significant; falling from 34% to 27%);
    - dhsc-govuk/FingertipsNext, TrendMarkerCalculatorTests.cs: QOF diabetes prevalence
      2020-2024 (Increasing) and Yorkshire and the Humber MMR coverage 2020-2024 (Decreasing).

    Then the cases that tell the calculator's direction check apart from a simpler one: two
    series where the count-weighted slope keeps its sign without any one point but a logit
    fit without one point does not (or the other way round), a spike that has no slope
    without its last point, and a series with 0% points. Returns the name of each failing
    check.
-#}

{%- set numerators = ['x1', 'x2', 'x3', 'x4', 'x5'] -%}
{%- set denominators = ['n1', 'n2', 'n3', 'n4', 'n5'] -%}

with

series (check_name, x1, x2, x3, x4, x5, n1, n2, n3, n4, n5, expected_chi_square, expected) as (

    values
    (
        'fingertips set 1', 994, 1023, 1199, 1332, 1367,
        40299, 41527, 42811, 44064, 44701, 47.90, 'increasing'
    ),
    (
        'fingertips set 1 reversed', 1367, 1332, 1199, 1023, 994,
        44701, 44064, 42811, 41527, 40299, 47.90, 'decreasing'
    ),
    (
        'fingertips set 2', 209, 213, 213, 239, 210,
        1017, 1087, 1119, 1117, 1139, 0.40, 'no_significant_change'
    ),
    (
        'fingertips trend data 3, 2009-2013', 8116, 8145, 8222, 8506, 8728,
        91530, 91773, 92088, 92238, 92665.890, 23.554, 'increasing'
    ),
    (
        'fingertips trend data 4, 2007-2011', 9, 8, 8, 6, 7,
        200, 100, 50, 42, 35, 13.763, 'increasing'
    ),
    (
        'fingertips trend data 5', 5405, 5500, 5435, 5480, 5315,
        18095, 18170, 18005, 17890, 17860, 0.018, 'no_significant_change'
    ),
    (
        'fingertips trend data 5a', 22435, 22445, 21365, 20955, 19055,
        65880, 67900, 68705, 69835, 70910, 978.2845, 'decreasing'
    ),
    (
        'fingertips next diabetes', 3455176, 3491868, 3625401, 3774801, 3938080,
        48783947, 49122259, 49956777, 50649129, 51441896, null, 'increasing'
    ),
    (
        'fingertips next mmr', 57274, 55865, 53681, 51767, 53185,
        61834, 60511, 59074, 57508, 59028, null, 'decreasing'
    ),
    (
        'logit fits all rise, a weighted fit without point 2 does not', 5, 3, 73, 73, 34,
        21, 120, 106, 166, 104, 16.021, 'increasing'
    ),
    (
        'weighted fits all fall, the logit fit without point 5 rises', 22, 2, 30, 37, 15,
        74, 42, 132, 184, 187, 11.834, 'no_significant_change'
    ),
    (
        'a spike: no slope without the last point', 0, 0, 0, 0, 100,
        1000, 1000, 1000, 1000, 1000, 204.08, 'no_significant_change'
    ),
    (
        '0% points take the corrected logit', 0, 0, 10, 20, 40,
        100, 100, 100, 100, 100, null, 'increasing'
    ),
    (
        'a missing point: no trend', 1, null, 3, 4, 5,
        10, 10, 10, 10, 10, null, null
    )

),

results as (

    select
        check_name,
        expected_chi_square,
        expected,
        {{ trend_chi_square_statistic(numerators, denominators) }} as chi_square,
        {{ trend_chi_square(numerators, denominators) }} as trend

    from series

)

select check_name
from results
where
    trend is distinct from expected
    or abs(chi_square - expected_chi_square) >= 0.005
