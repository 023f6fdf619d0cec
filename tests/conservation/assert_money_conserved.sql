{#- Money is conserved, per system and currency, to the minor unit:
    (1) every parseable input amount is either reconciled or rejected, and
    (2) the reconciled records' amounts all reach the three-column view.
    Returns one row per (system, currency) that breaks either. -#}

with

staged as (

    -- every staged row of the three refund inputs, once (int_input_rows)
    select
        system_name,
        currency,
        amount_minor,
        is_accepted
    from {{ ref('int_input_rows') }}
    where input_name in ('storefront_refunds', 'processor_refunds', 'erp_refund_postings')

),

input_money as (

    select
        system_name,
        currency,
        sum(amount_minor) as input_minor,
        sum(case when is_accepted then amount_minor else 0 end) as accepted_minor
    from staged
    where amount_minor is not null
    group by system_name, currency

),

rejected_money as (

    select
        case input_name
            when 'storefront_refunds' then 'storefront'
            when 'processor_refunds' then 'processor'
            else 'erp'
        end as system_name,
        currency,
        sum(amount) as rejected_amount
    from {{ ref('fct_rejected_rows') }}
    where amount is not null
    group by input_name, currency

),

currencies as (

    select * from {{ ref('currencies') }}

),

reconciled_money as (

    select
        'storefront' as system_name,
        currency,
        sum(amount_minor) as reconciled_minor
    from {{ ref('int_storefront_refunds_deduplicated') }}
    group by currency
    union all
    select
        'processor' as system_name,
        currency,
        sum(amount_minor) as reconciled_minor
    from {{ ref('int_processor_refunds_collapsed') }}
    group by currency
    union all
    select
        'erp' as system_name,
        currency,
        sum(case when posting_role in ('reversal', 'reversing') then -amount_minor else amount_minor end) as reconciled_minor
    from {{ ref('int_erp_postings_deduplicated') }}
    group by currency

),

reported_money as (

    select
        'storefront' as system_name,
        currency,
        sum(storefront_refund_total) as reported_amount
    from {{ ref('rpt_refund_reconciliation') }}
    group by currency
    union all
    select
        'processor' as system_name,
        currency,
        sum(processor_refund_total) as reported_amount
    from {{ ref('rpt_refund_reconciliation') }}
    group by currency
    union all
    select
        'erp' as system_name,
        currency,
        sum(erp_refund_total) as reported_amount
    from {{ ref('rpt_refund_reconciliation') }}
    group by currency

),

compared as (

    select
        input_money.system_name,
        input_money.currency,
        {{ minor_to_major('input_money.input_minor', 'currencies.minor_units') }} as input_amount,
        {{ minor_to_major('input_money.accepted_minor', 'currencies.minor_units') }} as accepted_amount,
        coalesce(rejected_money.rejected_amount, 0) as rejected_amount,
        {{ minor_to_major('coalesce(reconciled_money.reconciled_minor, 0)', 'currencies.minor_units') }} as reconciled_amount,
        coalesce(reported_money.reported_amount, 0) as reported_amount
    from input_money
    inner join currencies
        on input_money.currency = currencies.currency
    left join rejected_money
        on
            input_money.system_name = rejected_money.system_name
            and input_money.currency = rejected_money.currency
    left join reconciled_money
        on
            input_money.system_name = reconciled_money.system_name
            and input_money.currency = reconciled_money.currency
    left join reported_money
        on
            input_money.system_name = reported_money.system_name
            and input_money.currency = reported_money.currency

)

select * from compared
where
    input_amount <> accepted_amount + rejected_amount
    or reconciled_amount <> reported_amount
