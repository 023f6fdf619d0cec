{#- What the ERP should hold for each processor refund: the reference that
    the writeback dry run and the reconciliation compare against. One row per
    processor refund, keyed by the processor refund id (the idempotency key). -#}

with

refunds as (

    select * from {{ ref('int_refunds_matched') }}
    where has_processor_record

),

gl_account_map as (

    select * from {{ ref('gl_account_map') }}

),

refunds_on_order as (

    select
        *,
        -- Refunds without an order id share no order (as in the variance rules).
        case
            when order_id is not null
                then sum(
                    case when coalesce(processor_status, 'unknown') not in ('failed', 'canceled') then 1 else 0 end
                ) over (partition by order_id)
        end as live_refunds_on_order
    from refunds

),

requirements as (

    select
        refund_key as processor_refund_id,
        order_id,
        processor_status,
        processor_currency as currency,
        processor_amount_minor as amount_minor,
        processor_minor_units as minor_units,
        {{ required_gl_reason_code() }} as expected_reason_code,
        -- The period of the confirmation; a refund not yet confirmed books
        -- (if at all) in the period it was created.
        {{ accounting_period('coalesce(confirmed_at, processor_created_at)') }} as expected_posting_period,
        coalesce({{ refund_scope('live_refunds_on_order') }}, 'full') as expected_refund_scope,
        case
            when processor_status = 'succeeded' then 'required'
            when processor_status in ('pending', 'requested') then 'optional'
            when processor_status in ('failed', 'canceled') then 'none'
            else 'unknown'
        end as posting_requirement,
        case
            when processor_status = 'succeeded' then 'succeeded'
            when processor_status in ('pending', 'requested') then 'pending'
        end as expected_gl_status
    from refunds_on_order

),

expectations as (

    -- The few (state, scope) pairs the refunds expect: the account is chosen
    -- once per pair, not once per refund.
    select distinct
        expected_gl_status,
        expected_refund_scope
    from requirements
    where expected_gl_status is not null

),

accounts_ranked as (

    -- The account for the expected state and scope; an account for either
    -- scope serves where no scope-specific one exists.
    select
        expectations.expected_gl_status,
        expectations.expected_refund_scope,
        gl_account_map.gl_account,
        row_number() over (
            partition by expectations.expected_gl_status, expectations.expected_refund_scope
            order by
                case when {{ normalized('gl_account_map.refund_scope') }} = expectations.expected_refund_scope then 0 else 1 end,
                gl_account_map.gl_account
        ) as account_rank
    from expectations
    inner join gl_account_map
        on
            {{ normalized('gl_account_map.canonical_status') }} = expectations.expected_gl_status
            and {{ normalized('gl_account_map.refund_scope') }} in (expectations.expected_refund_scope, 'any')

),

final as (

    select
        cast(requirements.processor_refund_id as {{ dbt.type_string() }}) as processor_refund_id,
        cast(requirements.order_id as {{ dbt.type_string() }}) as order_id,
        cast(requirements.processor_status as {{ dbt.type_string() }}) as processor_status,
        cast(requirements.posting_requirement as {{ dbt.type_string() }}) as posting_requirement,
        cast(accounts_ranked.gl_account as {{ dbt.type_string() }}) as expected_gl_account,
        cast(requirements.expected_gl_status as {{ dbt.type_string() }}) as expected_gl_status,
        cast(requirements.expected_refund_scope as {{ dbt.type_string() }}) as expected_refund_scope,
        {{ minor_to_major('requirements.amount_minor', 'requirements.minor_units') }} as amount,
        cast(requirements.currency as {{ dbt.type_string() }}) as currency,
        cast(requirements.expected_reason_code as {{ dbt.type_string() }}) as expected_reason_code,
        cast(requirements.expected_posting_period as {{ dbt.type_string() }}) as expected_posting_period,
        {{ checkpoint_id_constant() }} as checkpoint_id
    from requirements
    left join accounts_ranked
        on
            requirements.expected_gl_status = accounts_ranked.expected_gl_status
            and requirements.expected_refund_scope = accounts_ranked.expected_refund_scope
            and accounts_ranked.account_rank = 1

)

select * from final
