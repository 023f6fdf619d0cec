{#- The Adyen landing: webhooks when notifications are there (as the
    merchant stores Adyen's JSON, or the `adyen_notification` table of
    Adyen's Magento 2 or Shopware 6 plugin, told apart by its columns), else
    the Settlement details report; var adyen_variant forces one. -#}
{% macro adyen_variant(notification_relation, report_relation) %}
    {%- set forced = var('adyen_variant', 'auto') | string | trim | lower -%}
    {%- set error = adyen_variant_error(forced) -%}
    {%- do refund_recon_fail_if(error) -%}
    {%- set lint = not execute or flag_var('refund_recon_lint', false) -%}
    {%- if forced == 'settlement_details' or (forced in ['auto', ''] and notification_relation is none and report_relation is not none) -%}
        {%- if report_relation is none and not lint -%}
            {{ refund_recon_fail("input 'adyen/settlement_detail_report' not found (var adyen_variant is settlement_details)") }}
        {%- endif -%}
        {{ return('settlement_details') }}
    {%- endif -%}
    {%- if notification_relation is none and not lint -%}
        {{ refund_recon_fail("input 'adyen/notification' not found: expected webhook notifications or a settlement_detail_report in the adyen schema (data folder adyen/)") }}
    {%- endif -%}
    {%- if forced in ['magento2', 'shopware6'] -%}
        {{ return(forced) }}
    {%- endif -%}
    {%- set columns = refund_relation_columns(notification_relation) if forced in ['auto', ''] else [] -%}
    {%- if 'pspreference' in columns and 'psp_reference' not in columns -%}
        {{ return('magento2' if 'entity_id' in columns else 'shopware6') }}
    {%- endif -%}
    {{ return('webhooks') }}
{% endmacro %}


{#- The checks of adyen_variant and adyen_settlement_refund_types: '' or
    the error (macros/settings/settings.sql). -#}
{% macro adyen_variant_error(value) %}
    {%- set forced = value | string | trim | lower -%}
    {%- set names = ['webhooks', 'magento2', 'shopware6', 'settlement_details'] -%}
    {%- if forced not in ['auto', ''] + names -%}
        {{- return("var adyen_variant must be auto, " ~ names | join(', ') ~ ", got '" ~ forced ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{% endmacro %}


{#- The Settlement details record types that are refund events (var
    adyen_settlement_refund_types), validated, lower-cased. -#}
{% macro adyen_settlement_refund_types() %}
    {%- set raw = var('adyen_settlement_refund_types',
        ['Refunded', 'RefundedExternally', 'RefundedExternallyWithInfo', 'RefundedBulk', 'RefundedReversed']) -%}
    {%- set error = adyen_settlement_refund_types_error(raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {%- set types = [] -%}
    {%- for name in list_var_items(raw) -%}
        {%- do types.append(name | string | lower) -%}
    {%- endfor -%}
    {{ return(types) }}
{% endmacro %}


{% macro adyen_settlement_refund_types_error(value) %}
    {%- for name in list_var_items(value) -%}
        {%- if not modules.re.match('^[A-Za-z0-9_]{1,40}$', name | string) -%}
            {{- return("var adyen_settlement_refund_types must list record types such as Refunded, got '" ~ name ~ "'") -}}
        {%- endif -%}
    {%- endfor -%}
    {{- return('') -}}
{% endmacro %}


{#- The success flag of Adyen's Magento 2 ('true'/'false' text) and
    Shopware 6 (TINYINT 1/0) plugin tables as 'true' or 'false'; null for
    anything else, which leaves the event without a status. -#}
{% macro adyen_plugin_success(expr) -%}
    case
        when lower(trim({{ expr }})) in ('true', '1') then 'true'
        when lower(trim({{ expr }})) in ('false', '0') then 'false'
    end
{%- endmacro %}


{#- A Settlement details report time: `Creation Date` (local wall-clock
    time) in the report's `TimeZone`, as text staging parses to UTC.
    - no zone: the text as it is (taken as UTC);
    - an abbreviation with an offset in seed time_zone_abbreviations (CEST
      +02:00, PDT -07:00): the time with that fixed offset, so no
      daylight-saving rule is guessed;
    - an IANA name (Area/Location), on DuckDB and PostgreSQL: converted with
      the zone's rules (local_time_as_iso_utc_text);
    - anything else (an unknown or ambiguous abbreviation): '<time> <zone>',
      which staging rejects with a reason naming the zone. -#}
{% macro adyen_report_time(time_expr, zone_expr, offset_expr) -%}
    case
        when nullif(trim({{ zone_expr }}), '') is null then {{ time_expr }}
        when {{ offset_expr }} is not null then {{ dbt.concat(['trim(' ~ time_expr ~ ')', offset_expr]) }}
        {%- if target.type in ('duckdb', 'postgres') %}
        when {{ zone_expr }} like '%/%'
            then coalesce(
                {{ local_time_as_iso_utc_text(time_expr, zone_expr) }},
                {{ dbt.concat(['trim(' ~ time_expr ~ ')', "' '", 'trim(' ~ zone_expr ~ ')']) }}
            )
        {%- endif %}
        else {{ dbt.concat(['trim(' ~ time_expr ~ ')', "' '", 'trim(' ~ zone_expr ~ ')']) }}
    end
{%- endmacro %}
