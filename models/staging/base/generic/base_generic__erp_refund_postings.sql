{#- The generic erp_refund_postings input (contracts.md 1), as the shape contract:
    every column as text, header names matched case-insensitively. -#}
{{ config(enabled=refund_shape_enabled('erp', 'generic')) }}

with

source as (

    select
        {{ refund_input_columns(
            source('erp', 'erp_refund_postings'),
            'erp_refund_postings',
            required=['erp_document_id', 'gl_account', 'amount', 'currency', 'posted_at'],
            optional=['processor_refund_id', 'order_id', 'reason_code', 'refund_type', 'received_at', 'posting_period', 'reverses_document_id'],
        ) }}
    from {{ source('erp', 'erp_refund_postings') }}

),

final as (

    select
        *,
        {{ shape_text('major') }} as amount_unit,
        {{ shape_text(none) }} as base_amount,
        {{ shape_text(none) }} as base_currency,
        {{ shape_text(none) }} as amount_check
    from source

)

select * from final
