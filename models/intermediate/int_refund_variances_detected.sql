{#- The variance rules (variance-rules.md): one row per (refund, variance
    type, system at fault). Every rule and every precedence between rules is
    here and nowhere else, each as one boolean column of `flagged`, and each
    has a unit test beside this model. -#}

{%- set sla_seconds = confirmation_sla_minutes() ~ ' * 60' -%}

{#- (variance_type, discrepancy_system, the flag column that raises it) -#}
{%- set rules = [
    ('missing_in_erp', 'erp', 'is_missing_in_erp'),
    ('missing_in_storefront', 'storefront', 'is_missing_in_storefront'),
    ('missing_at_processor', 'processor', 'is_missing_at_processor'),
    ('orphan_erp_posting', 'erp', 'is_orphan_erp_posting'),
    ('amount_mismatch', 'erp', 'is_erp_amount_mismatch'),
    ('amount_mismatch', 'storefront', 'is_storefront_amount_mismatch'),
    ('currency_mismatch', 'erp', 'is_erp_currency_mismatch'),
    ('currency_mismatch', 'storefront', 'is_storefront_currency_mismatch'),
    ('status_mismatch', 'erp', 'is_status_mismatch'),
    ('partial_refund_collapsed', 'erp', 'is_partial_refund_collapsed'),
    ('duplicate_erp_posting', 'erp', 'is_duplicate_erp_posting'),
    ('confirmation_lag', 'erp', 'is_confirmation_lag'),
    ('wrong_period', 'erp', 'is_wrong_period'),
    ('unmapped_status', 'processor', 'is_processor_status_unmapped'),
    ('unmapped_status', 'storefront', 'is_storefront_status_unmapped'),
    ('unmapped_status', 'erp', 'is_gl_account_unmapped'),
    ('unmapped_reason', 'storefront', 'is_storefront_reason_unmapped'),
    ('unmapped_reason', 'processor', 'is_processor_reason_unmapped'),
    ('reason_mismatch', 'erp', 'is_reason_mismatch'),
    ('locked_period_posting', 'erp', 'is_locked_period_posting'),
] -%}

{#- The ERP-side faults whose fix is an entry in the refund's own period. -#}
{%- set erp_entry_faults = [
    'is_missing_in_erp', 'is_partial_refund_collapsed', 'is_erp_amount_mismatch', 'is_erp_currency_mismatch',
    'is_status_mismatch', 'is_duplicate_erp_posting', 'is_wrong_period', 'is_reason_mismatch',
] -%}

with

refunds as (

    select
        *,
        {{ as_of_literal() }} as as_of
    from {{ ref('int_refunds_matched') }}

),

refund_facts as (

    select
        *,

        -- The processor's status is known: the state-dependent rules apply.
        coalesce(is_processor_status_mapped, false) as is_state_known,

        -- The state the ERP records: a reversal nets a booking out.
        case
            when erp_reversal_count > 0 then 'reversed'
            when key_system = 'processor' and erp_document_id is not null then erp_gl_status
        end as erp_state,

        -- The scope the ERP booked: from the GL account, or the posting's own
        -- flag where the account serves either scope.
        case
            when erp_gl_refund_scope in ('partial', 'full') then erp_gl_refund_scope
            when erp_refund_type in ('partial', 'full') then erp_refund_type
        end as erp_scope,

        -- The business reason decides the GL reason code (macros/rules).
        {{ is_deciding_reason_mapped() }} as is_deciding_reason_mapped,
        {{ required_gl_reason_code() }} as required_gl_reason_code,

        has_processor_record and erp_document_id is not null and key_system = 'processor' as has_linked_posting,
        processor_currency = erp_currency as is_erp_currency_comparable,
        processor_currency = storefront_currency as is_storefront_currency_comparable,
        abs(
            {{ minor_to_major('erp_amount_minor', 'erp_minor_units') }}
            - {{ minor_to_major('processor_amount_minor', 'processor_minor_units') }}
        ) > {{ amount_tolerance() }} as is_erp_amount_beyond_tolerance,
        abs(
            {{ minor_to_major('storefront_amount_minor', 'storefront_minor_units') }}
            - {{ minor_to_major('processor_amount_minor', 'processor_minor_units') }}
        ) > {{ amount_tolerance() }} as is_storefront_amount_beyond_tolerance,

        confirmed_at is not null
        and {{ dbt.datediff('confirmed_at', 'as_of', 'second') }} > {{ sla_seconds }}
            as is_confirmed_past_sla,
        {{ dbt.datediff('storefront_created_at', 'as_of', 'second') }} > {{ sla_seconds }}
            as is_storefront_record_past_sla,
        {{ dbt.datediff('confirmed_at', 'erp_received_at', 'second') }} > {{ sla_seconds }}
            as is_erp_receipt_late
    from refunds

),

orders as (

    -- Refunds per order: how many are live (not failed or canceled), how
    -- many succeeded, and for how many of those the ERP holds a posting.
    select
        order_id,
        sum(case when coalesce(processor_status, 'unknown') not in ('failed', 'canceled') then 1 else 0 end)
            as live_refund_count,
        sum(case when processor_status = 'succeeded' then 1 else 0 end) as succeeded_refund_count,
        sum(case when processor_status = 'succeeded' and has_linked_posting then 1 else 0 end)
            as posted_succeeded_refund_count
    from refund_facts
    where has_processor_record and order_id is not null
    group by order_id

),

refunds_in_order as (

    select
        refund_facts.*,
        -- The refund's scope (macros/rules).
        {{ refund_scope('orders.live_refund_count', 'refund_facts') }} as refund_scope,
        coalesce(
            orders.succeeded_refund_count >= 2
            and orders.posted_succeeded_refund_count < orders.succeeded_refund_count,
            false
        ) as is_collapsed_order
    from refund_facts
    left join orders
        on refund_facts.order_id = orders.order_id

),

compared as (

    select
        *,
        coalesce(has_linked_posting and is_erp_currency_comparable and is_erp_amount_beyond_tolerance, false)
            as is_erp_amount_different,
        -- A succeeded refund of a collapsed order whose own posting is missing
        -- (past the SLA) or carries another amount: partial_refund_collapsed
        -- instead of missing_in_erp / amount_mismatch.
        coalesce(
            is_collapsed_order
            and processor_status = 'succeeded'
            and (
                (not has_erp_record and is_confirmed_past_sla)
                or (has_linked_posting and is_erp_currency_comparable and is_erp_amount_beyond_tolerance)
            ),
            false
        ) as is_partial_refund_collapsed
    from refunds_in_order

),

period_closings as (

    -- When the ERP's calendar closed each period, where every accepted row of
    -- the period records a closing date on or before as_of (empty where the
    -- ERP shape provides no calendar). A lock without a date proves nothing
    -- about when a posting was made.
    select
        accounting_period,
        max(closed_at) as closed_at
    from {{ ref('stg_erp__accounting_periods') }}
    where is_accepted
    group by accounting_period
    having min(case when is_closed and closed_at <= {{ as_of_literal() }} then 1 else 0 end) = 1

),

compared_with_closings as (

    select
        compared.*,
        -- An adjusting entry: booked in a later period after the refund's own
        -- period had closed, as variance-rules.md's locked_period_posting asks
        -- ("an adjusting entry in an open period"). Not a wrong period; a
        -- booking in a later period made before the close still is one.
        coalesce(
            compared.erp_posting_period > period_closings.accounting_period
            and compared.erp_posted_at >= period_closings.closed_at,
            false
        ) as is_adjusting_entry
    from compared
    left join period_closings
        on {{ accounting_period('compared.confirmed_at') }} = period_closings.accounting_period

),

flagged as (

    select
        key_system,
        refund_key,
        order_id,
        erp_state,
        erp_scope,
        refund_scope,
        required_gl_reason_code,
        as_of,
        is_partial_refund_collapsed,

        -- The period the refund belongs to: its confirmation's, else (never
        -- confirmed) its creation's, in the business timezone.
        case when has_processor_record then coalesce(
            {{ accounting_period('confirmed_at') }},
            {{ accounting_period('processor_created_at') }}
        ) end as refund_period,

        is_state_known
        and processor_status = 'succeeded'
        and not has_erp_record
        and is_confirmed_past_sla
        and not is_partial_refund_collapsed as is_missing_in_erp,

        has_processor_record
        and not has_storefront_record
        and coalesce(processor_status, 'unknown') not in ('failed', 'canceled') as is_missing_in_storefront,

        key_system = 'storefront'
        and coalesce(storefront_status, 'unknown') not in ('failed', 'canceled')
        and is_storefront_record_past_sla as is_missing_at_processor,

        key_system = 'erp' as is_orphan_erp_posting,

        is_erp_amount_different and not is_partial_refund_collapsed as is_erp_amount_mismatch,

        has_processor_record
        and has_storefront_record
        and is_storefront_currency_comparable
        and is_storefront_amount_beyond_tolerance as is_storefront_amount_mismatch,

        has_linked_posting and not is_erp_currency_comparable as is_erp_currency_mismatch,

        has_processor_record
        and has_storefront_record
        and not is_storefront_currency_comparable as is_storefront_currency_mismatch,

        is_state_known
        and erp_state is not null
        and (
            (
                processor_status = 'succeeded'
                and (erp_state <> 'succeeded' or coalesce(refund_scope <> erp_scope, false))
            )
            or (processor_status in ('pending', 'requested') and erp_state <> 'pending')
            or (processor_status in ('failed', 'canceled') and erp_state <> 'reversed')
        ) as is_status_mismatch,

        key_system = 'processor' and erp_duplicate_count > 0 as is_duplicate_erp_posting,

        is_state_known
        and processor_status = 'succeeded'
        and has_linked_posting
        and is_erp_receipt_late as is_confirmation_lag,

        is_state_known
        and processor_status = 'succeeded'
        and has_linked_posting
        and confirmed_at is not null
        and erp_posting_period <> {{ accounting_period('confirmed_at') }}
        and not is_adjusting_entry as is_wrong_period,

        has_processor_record and not is_processor_status_mapped as is_processor_status_unmapped,
        has_storefront_record and not is_storefront_status_mapped as is_storefront_status_unmapped,
        erp_document_id is not null and not is_erp_gl_account_mapped as is_gl_account_unmapped,
        has_storefront_record and not is_storefront_reason_mapped as is_storefront_reason_unmapped,
        has_processor_record and not is_processor_reason_mapped as is_processor_reason_unmapped,

        has_linked_posting
        and is_deciding_reason_mapped
        and required_gl_reason_code is not null
        and coalesce(upper(erp_reason_code), '') <> upper(required_gl_reason_code) as is_reason_mismatch
    from compared_with_closings

),

locked_periods as (

    -- Periods the ERP's calendar has closed or locked at as_of (empty where
    -- the ERP shape provides no calendar).
    select accounting_period
    from {{ ref('stg_erp__accounting_periods') }}
    where is_accepted
    group by accounting_period
    having max(case when is_locked_at_as_of then 1 else 0 end) = 1

),

flagged_with_locks as (

    select
        flagged.*,
        locked_periods.accounting_period is not null
        and (
            {%- for fault in erp_entry_faults %}
            coalesce(flagged.{{ fault }}, false){{ ' or' if not loop.last }}
            {%- endfor %}
        ) as is_locked_period_posting
    from flagged
    left join locked_periods
        on flagged.refund_period = locked_periods.accounting_period

),

detected as (
    {% for variance_type, discrepancy_system, flag in rules %}
    select
        key_system,
        refund_key,
        '{{ variance_type }}' as variance_type,
        '{{ discrepancy_system }}' as discrepancy_system,
        order_id,
        erp_state,
        erp_scope,
        refund_scope,
        required_gl_reason_code,
        refund_period,
        as_of
    from flagged_with_locks
    where coalesce({{ flag }}, false)
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}
),

measured as (

    select
        detected.*,
        {{ dbt.hash(dbt.concat([
            'detected.variance_type', "'|'", 'detected.discrepancy_system', "'|'",
            'detected.key_system', "'|'", 'detected.refund_key'])) }} as variance_id,
        -- The disagreeing system's amount minus the reference (the processor's;
        -- the storefront's where the processor is the one at fault). A missing
        -- record counts as zero; amounts in different currencies are not
        -- compared; a duplicate's delta is the duplicates' total.
        case
            when detected.variance_type = 'duplicate_erp_posting' then compared.erp_duplicate_amount_minor
            when detected.variance_type = 'currency_mismatch' then null
            when detected.discrepancy_system = 'processor'
                then case
                    when compared.has_processor_record and not compared.is_storefront_currency_comparable then null
                    else coalesce(compared.processor_amount_minor, 0) - coalesce(compared.storefront_amount_minor, 0)
                end
            when detected.discrepancy_system = 'storefront'
                then case
                    when compared.has_storefront_record and not compared.is_storefront_currency_comparable then null
                    else coalesce(compared.storefront_amount_minor, 0) - coalesce(compared.processor_amount_minor, 0)
                end
            when compared.erp_document_id is not null and not compared.is_erp_currency_comparable then null
            else coalesce(compared.erp_amount_minor, 0) - coalesce(compared.processor_amount_minor, 0)
        end as amount_delta_minor,
        case
            when detected.variance_type = 'duplicate_erp_posting' then compared.erp_currency
            else coalesce(compared.processor_currency, compared.storefront_currency, compared.erp_currency)
        end as currency,
        case
            when detected.variance_type = 'duplicate_erp_posting' then compared.erp_minor_units
            else coalesce(compared.processor_minor_units, compared.storefront_minor_units, compared.erp_minor_units)
        end as minor_units,
        -- the refund's amount in the variance's currency (the system `currency` is from)
        case
            when compared.processor_currency is not null then compared.processor_amount_minor
            when compared.storefront_currency is not null then compared.storefront_amount_minor
            else compared.erp_amount_minor
        end as refund_amount_minor
    from detected
    inner join compared
        on
            detected.key_system = compared.key_system
            and detected.refund_key = compared.refund_key

),

final as (

    select
        key_system,
        refund_key,
        variance_type,
        discrepancy_system,
        order_id,
        erp_state,
        erp_scope,
        refund_scope,
        required_gl_reason_code,
        refund_period,
        as_of,
        variance_id,
        amount_delta_minor,
        currency,
        minor_units,
        -- What the variance puts at stake, computed here once: the variance
        -- mart, the checkpoint history and (through it) the checkpoint totals
        -- and the trend read this column (macros/money/amount_at_stake.sql).
        {{ amount_at_stake_minor('variance_type', 'amount_delta_minor', 'refund_amount_minor') }}
            as amount_at_stake_minor
    from measured

)

select * from final
