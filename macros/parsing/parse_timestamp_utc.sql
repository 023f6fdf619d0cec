{#-
    ISO 8601 text to a UTC timestamp (without time zone). A value with an
    offset (Z, +05:30, -0800, +05) is converted to UTC; a value with no offset
    is taken as UTC; a date alone is midnight UTC. Anything that is not a
    real instant (2026-02-30, free text) gives null, never an error, so the
    row can be rejected with its reason.
-#}
{% macro parse_timestamp_utc(expr) %}
    {%- set iso_date = '[0-9]{4}-[0-9]{2}-[0-9]{2}' -%}
    {%- set iso_time = '[0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?' -%}
    {#- An offset is at most 18 hours (ISO 8601 practice; real zones span -12 to +14): +99:00 is a
        typo, not an instant, and rejects the row. -#}
    {%- set iso_offset = '(Z|z|[+-](0[0-9]|1[0-8])(:?[0-5][0-9])?)' -%}
    {#- The three forms exclude one another (an offset starts with Z, z, + or
        -, which no time part holds; a date alone has no time part), so the
        order of the branches changes no result. The most common form (with
        an offset) is tried first: each branch is a full regular-expression
        match per value, and most values then need one instead of three. -#}
    case
        when {{ regex_full_match(expr, iso_date ~ '[T ]' ~ iso_time ~ ' ?' ~ iso_offset) }}
            then {{ adapter.dispatch('cast_offset_timestamp_to_utc', 'refund_recon')("replace(" ~ expr ~ ", ',', '.')") }}
        when {{ regex_full_match(expr, iso_date ~ '[T ]' ~ iso_time) }}
            then {{ adapter.dispatch('cast_offset_timestamp_to_utc', 'refund_recon')("replace(" ~ expr ~ ", ',', '.') || '+00:00'") }}
        when {{ regex_full_match(expr, iso_date) }}
            then {{ adapter.dispatch('cast_offset_timestamp_to_utc', 'refund_recon')(expr ~ " || 'T00:00:00+00:00'") }}
    end
{%- endmacro %}

{#- `expr` always carries an explicit offset here. -#}
{% macro default__cast_offset_timestamp_to_utc(expr) -%}
    cast(convert_timezone('UTC', {{ dbt.safe_cast(expr, 'timestamp_tz') }}) as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__cast_offset_timestamp_to_utc(expr) -%}
    cast(timezone('UTC', try_cast({{ expr }} as timestamptz)) as timestamp)
{%- endmacro %}

{% macro postgres__cast_offset_timestamp_to_utc(expr) -%}
    ({{ target.schema }}.refund_recon_try_timestamptz({{ expr }}) at time zone 'UTC')
{%- endmacro %}

{#- Spark's session time zone is UTC (profiles.yml), so a timestamp is a UTC
    instant; an impossible date or free text casts to null. -#}
{% macro spark__cast_offset_timestamp_to_utc(expr) -%}
    try_cast({{ expr }} as timestamp)
{%- endmacro %}
