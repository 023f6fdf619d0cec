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

{% macro spark__json_text_path(expr, path) -%}
    get_json_object({{ expr }}, '${% for key in path %}['{{ key }}']{% endfor %}')
{%- endmacro %}


{#- The last path segment of the `href` of the first link whose `rel` is
    `rel` in a JSON array of HATEOAS links held as text (PayPal's `links`:
    rel = up points at the refunded capture, .../v2/payments/captures/{id}).
    Null when the text is not such an array or has no such link. -#}
{% macro json_link_target_id(expr, rel) %}
    {%- if not modules.re.match('^[a-z_]{1,20}$', rel) -%}
        {{ refund_recon_fail("link rel must be a plain name, got '" ~ rel ~ "'") }}
    {%- endif -%}
    {{ return(adapter.dispatch('json_link_target_id', 'refund_recon')(expr, rel)) }}
{% endmacro %}

{#- Other warehouses: the href of the object that names rel (href written
    before or after rel within one link object). -#}
{% macro default__json_link_target_id(expr, rel) -%}
    nullif(coalesce(
        regexp_substr({{ expr }}, '"href" *: *"[^"]*/([^"/?]+)"[^{}]*"rel" *: *"{{ rel }}"', 1, 1, 'e', 1),
        regexp_substr({{ expr }}, '"rel" *: *"{{ rel }}"[^{}]*"href" *: *"[^"]*/([^"/?]+)"', 1, 1, 'e', 1)
    ), '')
{%- endmacro %}

{% macro spark__json_link_target_id(expr, rel) -%}
    nullif(regexp_extract(
        filter(from_json({{ expr }}, 'array<struct<href:string,rel:string>>'), link -> link.rel = '{{ rel }}')[0].href,
        '/([^/?]+)/?([?].*)?$', 1
    ), '')
{%- endmacro %}

{% macro duckdb__json_link_target_id(expr, rel) -%}
    nullif(regexp_extract(
        json_extract_string(
            list_filter(json_extract(try_cast({{ expr }} as json), '$[*]'), lambda link: json_extract_string(link, '$.rel') = '{{ rel }}')[1],
            '$.href'
        ),
        '/([^/?]+)/?([?].*)?$', 1
    ), '')
{%- endmacro %}

{% macro postgres__json_link_target_id(expr, rel) -%}
    (
        select nullif(substring(link ->> 'href' from '/([^/?]+)/?([?].*)?$'), '')
        from jsonb_array_elements(
            case when jsonb_typeof({{ target.schema }}.refund_recon_try_jsonb({{ expr }})) = 'array'
                then {{ target.schema }}.refund_recon_try_jsonb({{ expr }}) else '[]'::jsonb end
        ) as link
        where link ->> 'rel' = '{{ rel }}'
        limit 1
    )
{%- endmacro %}


{#- In a select list: one output row per element of the JSON array held as
    text in `expr` (none when it is not an array), the element as JSON
    that json_text and json_text_path read (Airbyte's nested arrays, such as
    Shopify's order_refunds.transactions). -#}
{% macro json_array_elements(expr) %}
    {{ return(adapter.dispatch('json_array_elements', 'refund_recon')(expr)) }}
{% endmacro %}

{% macro default__json_array_elements(expr) -%}
    {{ refund_recon_fail("nested JSON arrays (Airbyte's Shopify order_refunds) are read on DuckDB and PostgreSQL only; on " ~ target.type ~ " flatten order_refunds.transactions first") }}
{%- endmacro %}

{% macro duckdb__json_array_elements(expr) -%}
    unnest(json_extract(try_cast({{ expr }} as json), '$[*]'))
{%- endmacro %}

{% macro postgres__json_array_elements(expr) -%}
    jsonb_array_elements(
        case when jsonb_typeof({{ target.schema }}.refund_recon_try_jsonb({{ expr }})) = 'array'
            then {{ target.schema }}.refund_recon_try_jsonb({{ expr }}) else '[]'::jsonb end
    )::text
{%- endmacro %}

{#- Spark: from_json with array<string> keeps each element's raw JSON text,
    which get_json_object reads; explode gives no row for a null array. -#}
{% macro spark__json_array_elements(expr) -%}
    explode(from_json({{ expr }}, 'array<string>'))
{%- endmacro %}
