{#- One row per input row (a GL refund entry): trimmed, cast and parsed;
    amounts in integer minor units; timestamps in UTC; received_at and
    posting_period defaulted as the contract says. A row that cannot be
    reconciled keeps its place here with rejected_column and rejection_reason. -#}

with

source as (

    -- every enabled shape of this input (var erp_shapes), as text
    {{ union_refund_shapes('erp', 'erp_refund_postings') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

cleaned as (

    select
        source_shape,
        source_row_number,
        source_file,
        {{ clean_text('erp_document_id') }} as erp_document_id,
        {{ clean_text('processor_refund_id') }} as processor_refund_id,
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('gl_account') }} as gl_account,
        upper({{ clean_text('currency') }}) as currency,
        {{ clean_text('reason_code') }} as reason_code,
        lower({{ clean_text('refund_type') }}) as refund_type,
        {{ clean_text('posting_period') }} as posting_period_text,
        {{ clean_text('amount') }} as amount_text,
        lower({{ clean_text('amount_unit') }}) as amount_unit,
        {{ clean_text('posted_at') }} as posted_at_text,
        {{ clean_text('received_at') }} as received_at_text,
        {{ clean_text('base_amount') }} as base_amount_text,
        upper({{ clean_text('base_currency') }}) as base_currency,
        lower({{ clean_text('amount_check') }}) as amount_check
    from source

),

parsed as (

    select
        cleaned.*,
        currencies.minor_units,
        {{ amount_text_to_minor('cleaned.amount_text', 'cleaned.amount_unit', 'currencies.minor_units') }} as amount_minor,
        {{ parse_timestamp_utc('cleaned.posted_at_text') }} as posted_at,
        {{ parse_timestamp_utc('cleaned.received_at_text') }} as received_at
    from cleaned
    left join currencies
        on cleaned.currency = currencies.currency

),

validated as (

    select
        *,
        {{ first_failed_check(
            check_required_text('erp_document_id')
            + check_required_text('gl_account')
            + [
                ("amount_check = 'inexact_conversion'", 'amount',
                    'base amount / exchange rate is not exact at the currency exponent'),
                ("amount_check = 'no_transaction_currency_amount'", 'amount',
                    'no amount in the transaction currency (foreign amount or exchange rate)'),
            ]
            + check_money()
            + check_timestamp('posted_at')
            + check_timestamp('received_at', required=false)
            + [(
                'posting_period_text is not null and not '
                    ~ regex_full_match('posting_period_text', '[0-9]{4}-(0[1-9]|1[0-2])'),
                'posting_period',
                'posting_period is not YYYY-MM'
            )]
        ) }}
    from parsed

),

final as (

    select
        -- ids
        source_row_number,
        erp_document_id,
        processor_refund_id,
        order_id,

        -- strings
        source_shape,
        source_file,
        gl_account,
        reason_code,
        refund_type,
        currency,
        amount_text,
        base_amount_text,
        base_currency,
        coalesce(posting_period_text, {{ accounting_period('posted_at') }}) as posting_period,
        rejected_column,
        rejection_reason,

        -- numerics
        amount_minor,
        minor_units,

        -- booleans
        rejection_reason is null as is_accepted,

        -- timestamps
        posted_at,
        coalesce(received_at, posted_at) as received_at

    from validated

)

select * from final
