{#-
    The text value of top-level `key` in a JSON object held as text; null
    when the text is not JSON or has no such key (never an error, so one
    malformed metadata blob cannot fail a whole model). `key` is validated
    by the caller's var check: a plain name.
-#}
{% macro json_text(expr, key) %}
    {%- if not modules.re.match('^[A-Za-z0-9_]{1,64}$', key) -%}
        {{ refund_recon_fail("JSON key must be a plain name, got '" ~ key ~ "'") }}
    {%- endif -%}
    {{ return(adapter.dispatch('json_text', 'refund_recon')(expr, key)) }}
{% endmacro %}

{% macro default__json_text(expr, key) -%}
    json_extract_scalar(try(json_parse({{ expr }})), '$.{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(expr, key) -%}
    json_extract_string(try_cast({{ expr }} as json), '$.{{ key }}')
{%- endmacro %}

{#- refund_recon_try_jsonb is created by the on-run-start hook. -#}
{% macro postgres__json_text(expr, key) -%}
    ({{ target.schema }}.refund_recon_try_jsonb({{ expr }}) ->> '{{ key }}')
{%- endmacro %}

{% macro snowflake__json_text(expr, key) -%}
    try_parse_json({{ expr }}):"{{ key }}"::string
{%- endmacro %}

{% macro bigquery__json_text(expr, key) -%}
    json_value(safe.parse_json({{ expr }}), '$.{{ key }}')
{%- endmacro %}

{% macro spark__json_text(expr, key) -%}
    get_json_object({{ expr }}, '$.{{ key }}')
{%- endmacro %}



{#- The text value at `path` in JSON held as text: `path` is a list of keys,
    each a plain name that may contain dots (Adyen's additionalData keys are
    written 'modification.action', one key with a dot). Null when the text is
    not JSON or the path is absent. -#}
{% macro json_text_path(expr, path) %}
    {%- for key in path if not modules.re.match('^[A-Za-z0-9_.]{1,64}$', key) -%}
        {{ refund_recon_fail("JSON key must be a plain name, got '" ~ key ~ "'") }}
    {%- endfor -%}
    {{ return(adapter.dispatch('json_text_path', 'refund_recon')(expr, path)) }}
{% endmacro %}

{% macro default__json_text_path(expr, path) -%}
    json_extract_scalar(try(json_parse({{ expr }})), '${% for key in path %}["{{ key }}"]{% endfor %}')
{%- endmacro %}

{% macro duckdb__json_text_path(expr, path) -%}
    json_extract_string(try_cast({{ expr }} as json), '${% for key in path %}."{{ key }}"{% endfor %}')
{%- endmacro %}

{% macro postgres__json_text_path(expr, path) -%}
    ({{ target.schema }}.refund_recon_try_jsonb({{ expr }}) #>> '{ {{- path | join(',') -}} }')
{%- endmacro %}

{% macro snowflake__json_text_path(expr, path) -%}
    try_parse_json({{ expr }}){% for key in path %}:"{{ key }}"{% endfor %}::string
{%- endmacro %}

{% macro bigquery__json_text_path(expr, path) -%}
    json_value(safe.parse_json({{ expr }}), '${% for key in path %}."{{ key }}"{% endfor %}')
{%- endmacro %}
