{#-
    The settings of the inputs, validated together. The sources YAML
    (models/staging/base/*/_*__sources.yml) reads the vars that name the
    input tables and their freshness expressions, and YAML cannot call
    macros: they are checked here, by name. register_refund_inputs (the
    on-run-start hook) calls this, and dbt renders the hook while it parses
    the project, so a bad value stops every command before any SQL runs;
    refund_input_columns calls it again before it reads a table's columns.
-#}
{% macro check_refund_input_settings() %}
    {%- for name, check in refund_input_settings() -%}
        {%- if check == 'identifier_var' -%}
            {%- do identifier_var(name) -%}
        {%- elif check == 'sql_expression_var' -%}
            {%- do sql_expression_var(name) -%}
        {%- elif check == 'refund_data_dir' -%}
            {%- do refund_data_dir() -%}
        {%- elif check == 'input_encoding' -%}
            {%- do input_encoding() -%}
        {%- else -%}
            {%- do flag_var(name, name == 'read_inputs_from_files') -%}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}


{#- The settings check_refund_input_settings checks, in order: [var name,
    the macro that checks it]. -#}
{% macro refund_input_settings() %}
    {%- set settings = [] -%}
    {%- for name in [
        'refund_inputs_database', 'refund_inputs_schema',
        'storefront_refunds_table', 'processor_refunds_table', 'erp_refund_postings_table',
        'stripe_database', 'stripe_schema', 'stripe_refund_table',
        'adyen_database', 'adyen_schema', 'adyen_notification_table', 'adyen_settlement_detail_report_table',
        'paypal_database', 'paypal_schema', 'paypal_refund_table',
        'square_database', 'square_schema', 'square_refund_table',
        'shopify_database', 'shopify_schema',
        'shopify_refund_table', 'shopify_transaction_table',
        'shopify_return_line_item_table', 'shopify_order_refunds_table', 'shopify_order_refunds_transactions_table',
        'netsuite_database', 'netsuite_schema',
        'netsuite_transaction_table', 'netsuite_transactionaccountingline_table', 'netsuite_account_table',
        'netsuite_accountingperiod_table', 'netsuite_currency_table',
        'netsuite_accountingbook_table', 'netsuite_transactionline_table', 'netsuite_subsidiary_table',
    ] -%}
        {%- do settings.append([name, 'identifier_var']) -%}
    {%- endfor -%}
    {%- for name in ['storefront_loaded_at_field', 'processor_loaded_at_field', 'erp_loaded_at_field'] -%}
        {%- do settings.append([name, 'sql_expression_var']) -%}
    {%- endfor -%}
    {%- do settings.append(['data_dir', 'refund_data_dir']) -%}
    {%- do settings.append(['input_encoding', 'input_encoding']) -%}
    {%- do settings.append(['read_inputs_from_files', 'flag_var']) -%}
    {%- do settings.append(['refund_recon_lint', 'flag_var']) -%}
    {{- return(settings) -}}
{% endmacro %}
