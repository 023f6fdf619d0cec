{#- The combination of `columns` (column names or expressions) is unique:
    a composite primary key, or a seed key compared as matching compares it. -#}
{% test unique_key(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as row_count
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
