{#- A UTC timestamp as wall-clock time in the business timezone (the var),
    which decides dates and accounting periods. -#}
{% macro to_business_time(utc_timestamp) %}
    {{- return(adapter.dispatch('to_business_time', 'refund_recon')(utc_timestamp, business_timezone())) -}}
{% endmacro %}

{% macro default__to_business_time(utc_timestamp, timezone) -%}
    convert_timezone('UTC', '{{ timezone }}', {{ utc_timestamp }})
{%- endmacro %}

{% macro duckdb__to_business_time(utc_timestamp, timezone) -%}
    cast(timezone('{{ timezone }}', timezone('UTC', {{ utc_timestamp }})) as timestamp)
{%- endmacro %}

{% macro postgres__to_business_time(utc_timestamp, timezone) -%}
    (({{ utc_timestamp }} at time zone 'UTC') at time zone '{{ timezone }}')
{%- endmacro %}

{% macro spark__to_business_time(utc_timestamp, timezone) -%}
    from_utc_timestamp({{ utc_timestamp }}, '{{ timezone }}')
{%- endmacro %}

{#- The accounting period ('YYYY-MM') of a UTC timestamp, in the business timezone. -#}
{% macro accounting_period(utc_timestamp) -%}
    {{ adapter.dispatch('format_year_month', 'refund_recon')(to_business_time(utc_timestamp)) }}
{%- endmacro %}

{% macro default__format_year_month(local_timestamp) -%}
    to_char({{ local_timestamp }}, 'YYYY-MM')
{%- endmacro %}

{% macro duckdb__format_year_month(local_timestamp) -%}
    strftime({{ local_timestamp }}, '%Y-%m')
{%- endmacro %}

{% macro spark__format_year_month(local_timestamp) -%}
    date_format({{ local_timestamp }}, 'yyyy-MM')
{%- endmacro %}
