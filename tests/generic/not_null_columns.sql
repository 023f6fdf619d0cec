{#- Every column in `columns` is not null. One test per model instead of one
    not_null node per column: the same check in one scan, and a build runs a
    node less per column (a dbt node costs about 25 ms of CPU however small
    the table; the per-column tests were 102 of a checkpoint's 235 nodes).
    One failing row per column that has nulls, with how many. -#}
{% test not_null_columns(model, columns) %}

with null_counts as (

    select
        {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as null_rows_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

)

{% for column in columns -%}
select
    '{{ column }}' as column_name,
    null_rows_{{ loop.index }} as null_rows
from null_counts
where null_rows_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}

{% endtest %}
