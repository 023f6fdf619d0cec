{#- Every column in `values` (a mapping column -> accepted values) holds only
    its accepted values; a null is accepted, as in dbt's accepted_values
    (not_null_columns checks required columns). One test per model instead of
    one accepted_values node per column, in one scan (a grouping set per
    column). `quote: false` compares unquoted (numbers). One failing row per
    column and value not accepted, with how many rows hold it. -#}
{% test accepted_values_columns(model, values, quote=true) %}

{%- set checks = [] %}
{%- for column, accepted in values.items() %}
    {%- set listed = [] %}
    {%- for value in accepted %}
        {%- do listed.append("'" ~ value ~ "'" if quote else value | string) %}
    {%- endfor %}
    {%- do checks.append((column, column ~ " is not null and " ~ column ~ " not in (" ~ listed | join(", ") ~ ")")) %}
{%- endfor %}

select
    case
        {%- for column, failing in checks %}
        when {{ failing }} then '{{ column }}'
        {%- endfor %}
    end as column_name,
    coalesce(
        {%- for column, failing in checks %}
        cast({{ column }} as {{ dbt.type_string() }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as bad_value,
    count(*) as failing_rows
from {{ model }}
group by grouping sets (
    {%- for column, failing in checks %}
    ({{ column }}){{ "," if not loop.last }}
    {%- endfor %}
)
having
    {%- for column, failing in checks %}
    {{ "or " if not loop.first }}({{ failing }})
    {%- endfor %}

{% endtest %}
