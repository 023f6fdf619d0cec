{#- The PayPal Transaction Search event codes that are refunds (var
    paypal_refund_event_codes, default T1107: payment refund initiated by the
    merchant), validated, upper-cased. -#}
{% macro paypal_refund_event_codes() %}
    {%- set raw = var('paypal_refund_event_codes', ['T1107']) -%}
    {%- set error = paypal_refund_event_codes_error(raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {%- set codes = [] -%}
    {%- for code in list_var_items(raw) -%}
        {%- do codes.append(code | string | upper) -%}
    {%- endfor -%}
    {{ return(codes) }}
{% endmacro %}


{#- The check of paypal_refund_event_codes: '' or its error (macros/settings/settings.sql). -#}
{% macro paypal_refund_event_codes_error(value) %}
    {%- for code in list_var_items(value) -%}
        {%- if not modules.re.match('^[A-Za-z0-9]{1,10}$', code | string) -%}
            {{- return("var paypal_refund_event_codes must list event codes such as T1107, got '" ~ code ~ "'") -}}
        {%- endif -%}
    {%- endfor -%}
    {{- return('') -}}
{% endmacro %}


{#- Transaction Search fields read from transaction_info: their flattened
    column names (transaction_info.transaction_id from json_normalize or jq,
    transaction_info__transaction_id from Stitch or Meltano, both normalized
    to transaction_info_transaction_id). -#}
{% macro paypal_flat_transaction_fields() %}
    {%- set names = [] -%}
    {%- for path in [['transaction_id'], ['transaction_event_code'], ['paypal_reference_id'], ['invoice_id'],
        ['custom_field'], ['transaction_amount', 'value'], ['transaction_amount', 'currency_code'],
        ['transaction_status'], ['transaction_initiation_date'], ['transaction_updated_date']] -%}
        {%- do names.append('transaction_info_' ~ path | join('_')) -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}


{#- A Transaction Search field: its flattened column, else the JSON. -#}
{% macro paypal_transaction_field(path) -%}
    coalesce(transaction_info_{{ path | join('_') }}, {{ json_text_path('transaction_info', path) }})
{%- endmacro %}


{#- The relation's own name of the column whose normalized name is
    `normalized` (links.0.rel for links_0_rel). -#}
{% macro paypal_column_named(relation, normalized) %}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if normalized_column_name(column.name) == normalized -%}
            {{ return(column.name) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(normalized) }}
{% endmacro %}


{#- Does the `links` column hold Python text ([{'href': ..., 'rel': 'up'}]),
    as pandas writes a list that json_normalize left in a cell? -#}
{% macro paypal_links_hold_python_text(relation, columns) %}
    {%- if not execute or flag_var('refund_recon_lint', false) or 'links' not in columns -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set links = adapter.quote(paypal_column_named(relation, 'links')) -%}
    {%- set found = run_query(
        "select count(*) from " ~ relation ~ " where cast(" ~ links ~ " as " ~ dbt.type_string() ~ ") like '%''rel'':%'"
    ).columns[0].values()[0] -%}
    {{ return(found > 0) }}
{% endmacro %}


{#- The last path segment of a URL held as text (the capture id at the end
    of PayPal's .../v2/payments/captures/{id}); null when there is none. -#}
{% macro url_last_segment(expr) %}
    {{ return(adapter.dispatch('url_last_segment', 'refund_recon')(expr)) }}
{% endmacro %}

{% macro default__url_last_segment(expr) -%}
    nullif(regexp_substr({{ expr }}, '/([^/?]+)/?([?].*)?$', 1, 1, 'e', 1), '')
{%- endmacro %}

{% macro duckdb__url_last_segment(expr) -%}
    nullif(regexp_extract({{ expr }}, '/([^/?]+)/?([?].*)?$', 1), '')
{%- endmacro %}

{% macro spark__url_last_segment(expr) -%}
    nullif(regexp_extract({{ expr }}, '/([^/?]+)/?([?].*)?$', 1), '')
{%- endmacro %}

{% macro postgres__url_last_segment(expr) -%}
    nullif(substring({{ expr }} from '/([^/?]+)/?([?].*)?$'), '')
{%- endmacro %}
