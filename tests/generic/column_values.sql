{#- A model's rules in one test: its keys, its required columns and its value
    lists. Every key in `keys` (a column name or expression, or a list of them
    for a composite key; the first is the primary key) is unique and has no
    null part (a nullable part is keyed as `coalesce(x, '')`); every column in
    `not_null` is not null; every column in `accepted_values` (a mapping
    column -> accepted values) holds only its accepted values, a null accepted
    unless the column is also in `not_null` (as in dbt's accepted_values).
    `quote: false` compares unquoted (numbers). One node per model instead of
    one per key, column or kind of check: a dbt node costs about 25 ms of CPU
    however small the table. The rows with a column problem are read in one
    scan, then paired with the checks; each key is one grouping.
    One failing row per column and problem, with the bad value and how many
    rows hold it: `null` / `not accepted` for a column (bad value null for a
    null), `duplicate key` / `null in key` for a key (column_name lists the
    key's parts, bad_value their values joined by ', ', a null part as
    `null`). -#}
{% test column_values(model, keys=[], not_null=[], accepted_values={}, quote=true) %}

{%- set key_lists = [] %}
{%- for key in keys %}
    {%- do key_lists.append([key] if key is string else key) %}
{%- endfor %}
{%- if not key_lists %}
    {{ exceptions.raise_compiler_error("column_values on " ~ model ~ ": give keys (the first is the primary key)") }}
{%- endif %}
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

with
{%- if checks %}

flagged as (

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

),

column_problems as (

    select
        column_name,
        problem,
        bad_value,
        count(*) as failing_rows
    from problems
    where problem is not null
    group by column_name, problem, bad_value

),
{%- endif %}
{%- for key in key_lists %}

key_{{ loop.index }}_problems as (

    select
        '{{ key | join(", ") | replace("'", "''") }}' as column_name,
        case
            when {% for part in key %}{{ "or " if not loop.first }}{{ part }} is null {% endfor -%}
            then 'null in key'
            else 'duplicate key'
        end as problem,
        {%- if key | length == 1 %}
        cast({{ key[0] }} as {{ dbt.type_string() }}) as bad_value,
        {%- else %}
        {%- set parts = [] %}
        {%- for part in key %}
            {%- if not loop.first %}{% do parts.append("', '") %}{% endif %}
            {%- do parts.append("coalesce(cast(" ~ part ~ " as " ~ dbt.type_string() ~ "), 'null')") %}
        {%- endfor %}
        {{ dbt.concat(parts) }} as bad_value,
        {%- endif %}
        count(*) as failing_rows
    from {{ model }}
    group by {{ key | join(", ") }}
    having
        count(*) > 1
        {%- for part in key %}
        or {{ part }} is null
        {%- endfor %}

){{ "," if not loop.last }}
{%- endfor %}

{%- if checks %}

select * from column_problems
{%- endif %}
{%- for key in key_lists %}
{{ "union all" if checks or not loop.first }}
select * from key_{{ loop.index }}_problems
{%- endfor %}

{% endtest %}
