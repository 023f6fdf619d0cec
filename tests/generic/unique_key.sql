{#- The combination of `columns` (column names or expressions) is unique:
    a composite primary key, or a seed key compared as matching compares it.
    new_deliveries_only (staging): an incremental checkpoint checks the rows
    of the delivery files it read now; rows of a file read before cannot
    repeat without assert_input_rows_conserved failing, which holds staging
    to each such file's recorded row count. -#}
{% test unique_key(model, columns, new_deliveries_only=false) %}

select
    {{ columns | join(', ') }},
    count(*) as row_count
from {{ model }}
{% if new_deliveries_only and checkpoint_run_mode() == 'incremental' -%}
where {{ checkpoint_new_row() }}
{% endif -%}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
