{#- The NetSuite transaction types that are refunds (var
    netsuite_refund_transaction_types), validated, lower-cased. -#}
{% macro netsuite_refund_types() %}
    {%- set types = [] -%}
    {%- for name in list_var('netsuite_refund_transaction_types', ['CustRfnd', 'CashRfnd']) -%}
        {%- if not modules.re.match('^[A-Za-z0-9_]{1,40}$', name) -%}
            {{ refund_recon_fail("var netsuite_refund_transaction_types must list type names such as CustRfnd, got '" ~ name ~ "'") }}
        {%- endif -%}
        {%- do types.append(name | lower) -%}
    {%- endfor -%}
    {{ return(types) }}
{% endmacro %}
