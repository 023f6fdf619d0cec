{#-
    Source shapes. Each role (storefront, processor, erp) reads one or more
    shapes, chosen by the var <role>_shapes (default [generic]). A shape is
    one folder models/staging/base/<shape>/ with one base model per input it
    feeds, named base_<shape>__<input>, that reads the raw tables of that
    system (sources YAML beside it) and emits the shape contract below:
    the generic input's columns as text, plus where each row came from.
    The role's staging model unions the enabled shapes and parses them all
    the same way, so nothing downstream knows which shape a row came from.
-#}

{#- The columns every base model of `input_name` emits, all text except the
    first two. amount_unit says how `amount` is written: 'major' (12.50, the
    generic format) or 'minor' (1250, a whole number at ISO 4217's
    exponent). A system that writes minor units at its own exponent (Stripe,
    Adyen) emits 'major' text converted with it (macros/money/system_exponents.sql).
    An ERP posting's
    base_amount and base_currency keep the ledger's own amount where the
    ERP books in another currency than the refund's (audit trail only), and
    amount_check names why `amount` could not be read from it
    (inexact_conversion, no_transaction_currency_amount); null elsewhere. -#}
{% macro refund_shape_columns(input_name) %}
    {%- set columns = {
        'storefront_refunds': [
            'storefront_refund_id', 'order_id', 'processor_refund_id', 'amount', 'amount_unit', 'currency',
            'refund_type', 'reason', 'status', 'created_at', 'updated_at', 'channel', 'storefront'],
        'processor_refunds': [
            'processor_refund_id', 'processor', 'payment_id', 'order_id', 'amount', 'amount_unit', 'currency',
            'status', 'reason', 'created_at', 'event_at'],
        'erp_refund_postings': [
            'erp_document_id', 'processor_refund_id', 'order_id', 'gl_account', 'amount', 'amount_unit', 'currency',
            'reason_code', 'refund_type', 'posted_at', 'received_at', 'posting_period', 'reverses_document_id',
            'base_amount', 'base_currency', 'amount_check'],
        'erp_accounting_periods': ['accounting_period', 'period_name', 'is_closed', 'is_locked', 'closed_at'],
    } -%}
    {{ return(['source_row_number', 'source_file'] + columns[input_name]) }}
{% endmacro %}


{#- The shapes enabled for `role`, validated: a list of plain names. -#}
{% macro refund_shapes(role) %}
    {%- set shapes = [] -%}
    {%- for item in list_var(role ~ '_shapes', ['generic']) -%}
        {%- set shape = item | lower -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]{0,39}$', shape) -%}
            {{ refund_recon_fail("var " ~ role ~ "_shapes must list shape names such as generic, stripe or adyen, got '" ~ item ~ "'") }}
        {%- endif -%}
        {%- if shape not in shapes -%}
            {%- do shapes.append(shape) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not shapes -%}
        {{ refund_recon_fail("var " ~ role ~ "_shapes is empty: name at least one shape (generic is the default)") }}
    {%- endif -%}
    {{ return(shapes) }}
{% endmacro %}


{#- For a base model's config(enabled=...): is `shape` enabled for `role`? -#}
{% macro refund_shape_enabled(role, shape) %}
    {{ return(shape in refund_shapes(role)) }}
{% endmacro %}


{#- Every enabled shape's base model of `input_name`, unioned by column name. -#}
{% macro union_refund_shapes(role, input_name) %}
    {%- set columns = refund_shape_columns(input_name) -%}
    {%- for shape in refund_shapes(role) %}
    select
        cast('{{ shape }}' as {{ dbt.type_string() }}) as source_shape,
        {{ columns | join(',\n        ') }}
    from {{ ref('base_' ~ shape ~ '__' ~ input_name) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{% endmacro %}


{#- A typed text literal (or null) for a base model's constant columns. -#}
{% macro shape_text(value) -%}
    cast({{ "null" if value is none else "'" ~ value ~ "'" }} as {{ dbt.type_string() }})
{%- endmacro %}
