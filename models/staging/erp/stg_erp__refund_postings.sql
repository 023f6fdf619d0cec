{#- One row per input row (a GL refund entry): trimmed, cast and parsed;
    amounts in integer minor units; timestamps in UTC; received_at and
    posting_period defaulted as the contract says. A row that cannot be
    reconciled keeps its place here with rejected_column and rejection_reason.
    A reversal (reverses_document_id) is checked against the document it
    names, as ERPs write reversals: the latest accepted version of a known
    document that is not itself a reversal, in the same currency and amount,
    on a GL account gl_account_map maps to `reversed`; only the earliest
    reversing document of a document counts (reversing twice is rejected). -#}

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
        {{ clean_text('reverses_document_id') }} as reverses_document_id,
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

gl_account_map as (

    select * from {{ ref('gl_account_map') }}

),

reversible_documents as (

    -- The latest accepted version of each document: what a reversal names.
    select
        erp_document_id,
        reverses_document_id,
        currency,
        amount_minor
    from (
        select
            *,
            row_number() over (
                partition by erp_document_id
                order by coalesce(received_at, posted_at) desc, posted_at desc, source_file desc, source_row_number desc
            ) as recency_rank
        from validated
        where rejection_reason is null
    ) as versions
    where recency_rank = 1

),

{%- set reversal_checks = [
    ('validated.reverses_document_id = validated.erp_document_id', 'reverses_document_id',
        'a posting cannot reverse itself'),
    ('reversed.erp_document_id is null', 'reverses_document_id',
        'reverses_document_id names no accepted ERP document'),
    ('reversed.reverses_document_id is not null', 'reverses_document_id',
        'reverses a reversal: post a new entry instead'),
    ("coalesce(" ~ normalized('gl_account_map.canonical_status') ~ ", '') <> 'reversed'", 'gl_account',
        'a reversal posts to a GL account that gl_account_map maps to reversed'),
    ('validated.currency <> reversed.currency', 'currency',
        'a reversal carries the currency of the document it reverses'),
    ('validated.amount_minor <> reversed.amount_minor', 'amount',
        'a reversal carries the amount of the document it reverses'),
] %}

reversals_checked as (

    -- The first failed reversal check of an otherwise accepted reversal.
    select
        validated.*,
        case
            when validated.rejection_reason is not null or validated.reverses_document_id is null then null
            {%- for condition, column, reason in reversal_checks %}
            when {{ condition }} then '{{ column }}'
            {%- endfor %}
        end as reversal_column,
        case
            when validated.rejection_reason is not null or validated.reverses_document_id is null then null
            {%- for condition, column, reason in reversal_checks %}
            when {{ condition }} then '{{ reason }}'
            {%- endfor %}
        end as reversal_reason,
        min(validated.posted_at) over (partition by validated.erp_document_id) as first_posted_at
    from validated
    left join reversible_documents as reversed
        on validated.reverses_document_id = reversed.erp_document_id
    left join gl_account_map
        on {{ normalized('gl_account_map.gl_account') }} = {{ normalized('validated.gl_account') }}

),

reversals_ranked as (

    -- The valid reversing documents of one document, earliest first: only
    -- the first counts, a second reverses it twice.
    select
        *,
        case
            when rejection_reason is null and reverses_document_id is not null and reversal_reason is null
                then dense_rank() over (
                    partition by
                        reverses_document_id,
                        rejection_reason is null and reverses_document_id is not null and reversal_reason is null
                    order by first_posted_at, erp_document_id
                )
        end as reversal_rank
    from reversals_checked

),

reversals_validated as (

    select
        *,
        case
            when rejection_reason is not null then rejected_column
            when reversal_reason is not null then reversal_column
            when reversal_rank > 1 then 'reverses_document_id'
        end as checked_column,
        case
            when rejection_reason is not null then rejection_reason
            when reversal_reason is not null then reversal_reason
            when reversal_rank > 1 then 'the document is already reversed by an earlier posting'
        end as checked_reason
    from reversals_ranked

),

final as (

    select
        -- ids
        source_row_number,
        erp_document_id,
        processor_refund_id,
        order_id,
        reverses_document_id,

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
        checked_column as rejected_column,
        checked_reason as rejection_reason,

        -- numerics
        amount_minor,
        minor_units,

        -- booleans
        checked_reason is null as is_accepted,

        -- timestamps
        posted_at,
        coalesce(received_at, posted_at) as received_at

    from reversals_validated

)

select * from final
