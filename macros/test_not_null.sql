{#-
    Overrides dbt's not_null test, which stores every column of a failing row when
    store_failures is on (as it is here, in schema `audit`). Staging rows hold postcodes and
    dates of birth, which must not leave raw and staging, so only the tested column is kept.
-#}
{% macro default__test_not_null(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is null

{% endmacro %}
