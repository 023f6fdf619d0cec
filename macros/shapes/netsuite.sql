{#- The NetSuite transaction types that are refunds (var
    netsuite_refund_transaction_types), validated, lower-cased. -#}
{% macro netsuite_refund_types() %}
    {%- set raw = var('netsuite_refund_transaction_types', ['CustRfnd', 'CashRfnd']) -%}
    {%- if raw is string -%}
        {%- set raw = (raw | replace('[', '') | replace(']', '') | replace('"', '') | replace("'", '')).split(',') -%}
    {%- endif -%}
    {%- set types = [] -%}
    {%- for item in raw -%}
        {%- set name = item | string | trim -%}
        {%- if not modules.re.match('^[A-Za-z0-9_]{1,40}$', name) -%}
            {{ refund_recon_fail("var netsuite_refund_transaction_types must list type names such as CustRfnd, got '" ~ item ~ "'") }}
        {%- endif -%}
        {%- do types.append(name | lower) -%}
    {%- endfor -%}
    {{ return(types) }}
{% endmacro %}
