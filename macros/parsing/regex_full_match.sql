{#- True when the whole of `expr` matches `pattern` (a POSIX-style pattern
    without anchors; keep to [0-9] classes so every dialect reads it alike). -#}
{% macro regex_full_match(expr, pattern) %}
    {{- return(adapter.dispatch('regex_full_match', 'refund_recon')(expr, pattern)) -}}
{% endmacro %}

{% macro default__regex_full_match(expr, pattern) -%}
    regexp_like({{ expr }}, '^({{ pattern }})$')
{%- endmacro %}

{% macro duckdb__regex_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro postgres__regex_full_match(expr, pattern) -%}
    ({{ expr }} ~ '^({{ pattern }})$')
{%- endmacro %}

{% macro bigquery__regex_full_match(expr, pattern) -%}
    regexp_contains({{ expr }}, r'^({{ pattern }})$')
{%- endmacro %}

{% macro spark__regex_full_match(expr, pattern) -%}
    ({{ expr }} rlike '^({{ pattern }})$')
{%- endmacro %}
