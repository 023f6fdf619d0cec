{#- A model's column rules in one test: every column in `not_null` is not
    null, and every column in `accepted_values` (a mapping column -> accepted
    values) holds only its accepted values, a null accepted unless the column
    is also in `not_null` (as in dbt's accepted_values). `quote: false`
    compares unquoted (numbers). One node per model instead of one per column
    or per kind of check (a dbt node costs about 25 ms of CPU however small
    the table) and one scan: the rows with a problem are read once, then
    paired with the checks. One failing row per column, problem (null / not
    accepted) and bad value (null for a null), with how many rows hold it. -#}
{% test column_values(model, not_null=[], accepted_values={}, quote=true) %}

{%- set checks = [] %}
{%- for column in not_null %}
    {%- do checks.append(column) %}
{%- endfor %}
{%- for column in accepted_values %}
    {%- if column not in checks %}
        {%- do checks.append(column) %}
    {%- endif %}
{%- endfor %}
{%- set accepted = {} %}
{%- for column, values in accepted_values.items() %}
    {%- set listed = [] %}
    {%- for value in values %}
        {%- do listed.append("'" ~ value ~ "'" if quote else value | string) %}
    {%- endfor %}
    {%- do accepted.update({column: listed | join(", ")}) %}
{%- endfor %}
{%- if not checks %}
    {{ exceptions.raise_compiler_error("column_values on " ~ model ~ ": give not_null or accepted_values") }}
{%- endif %}

with flagged as (

    select
        {%- for column in checks %}
        {{ column }} as checked_{{ loop.index }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
    where
        {%- for column in checks %}
        {{ "or " if not loop.first }}
        {%- if column in not_null %}{{ column }} is null{% endif %}
        {%- if column in not_null and column in accepted %} or {% endif %}
        {%- if column in accepted %}{{ column }} not in ({{ accepted[column] }}){% endif %}
        {%- endfor %}

),

check_numbers as (

    {%- for column in checks %}
    select {{ loop.index }} as check_number
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

problems as (

    select
        case check_numbers.check_number
            {%- for column in checks %}
            when {{ loop.index }} then '{{ column }}'
            {%- endfor %}
        end as column_name,
        case
            {%- for column in checks %}
            {%- if column in not_null %}
            when check_numbers.check_number = {{ loop.index }} and flagged.checked_{{ loop.index }} is null then 'null'
            {%- endif %}
            {%- if column in accepted %}
            when
                check_numbers.check_number = {{ loop.index }}
                and flagged.checked_{{ loop.index }} not in ({{ accepted[column] }})
                then 'not accepted'
            {%- endif %}
            {%- endfor %}
        end as problem,
        case check_numbers.check_number
            {%- for column in checks %}
            when {{ loop.index }} then cast(flagged.checked_{{ loop.index }} as {{ dbt.type_string() }})
            {%- endfor %}
        end as bad_value
    from flagged
    cross join check_numbers

)

select
    column_name,
    problem,
    bad_value,
    count(*) as failing_rows
from problems
where problem is not null
group by column_name, problem, bad_value

{% endtest %}
