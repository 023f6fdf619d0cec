{#- A primary key: the combination of `columns` (column names or expressions)
    is unique and none of them is null (a nullable part is keyed as
    `coalesce(x, '')`). A composite key, a seed key compared as matching
    compares it, or one key column declared on the column itself
    (`data_tests: [unique_key]`): one node instead of unique + not_null, and
    the DAG rules read it as a primary-key test. One failing row per key value
    that repeats or holds a null, with how many rows. -#}
{% test unique_key(model, columns=none, column_name=none) %}

{%- set key = columns if columns else [column_name] %}

select
    {{ key | join(', ') }},
    count(*) as row_count
from {{ model }}
group by {{ key | join(', ') }}
having
    count(*) > 1
    {%- for column in key %}
    or {{ column }} is null
    {%- endfor %}

{% endtest %}
