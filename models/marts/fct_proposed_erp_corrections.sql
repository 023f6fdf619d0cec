{#- The ERP entries that would fix each ERP-side variance: one row per entry,
    in the erp_refund_postings input columns (so the rows load as one more ERP
    delivery) plus correction_id, variance_id, action and explanation. A
    proposal only: nothing is written to an ERP.
    Per processor refund whose state is known, with no reversal posting of the
    old kind (a `reversed` account without reverses_document_id):
      reverse_duplicate   - reverses each duplicate posting
      reverse_and_repost  - reverses the posting that speaks for the refund
                            when its state, scope, currency, period or reason
                            is wrong, and posts what fct_expected_erp_postings
                            says the ERP should hold (no repost where the
                            processor holds no succeeded refund)
      adjust_amount       - the same where the amount is what is wrong
      post_missing        - posts a missing refund
      post_in_open_period - the (re)post of a refund whose period is locked at
                            as_of: in the earliest open period after it
    and reverse_orphan reverses a posting that links to no processor refund.
    A reversal carries the reversed document's amount, currency and references
    on the first `reversed` account of gl_account_map. Variances that need the
    storefront, the processor or a mapping get no entry; so does
    confirmation_lag (late is late). Entries are dated as_of. -#}

{%- set fix_types = [
    ('currency', 'currency_mismatch'),
    ('amount', 'amount_mismatch'),
    ('collapsed', 'partial_refund_collapsed'),
    ('status', 'status_mismatch'),
    ('period', 'wrong_period'),
    ('reason', 'reason_mismatch'),
    ('missing', 'missing_in_erp'),
    ('duplicate', 'duplicate_erp_posting'),
] %}

with

variances as (

    select * from {{ ref('int_refund_variances_detected') }}
    where discrepancy_system = 'erp'

),

refunds as (

    select * from {{ ref('int_refunds_matched') }}
    where key_system = 'processor'

),

expected as (

    select * from {{ ref('fct_expected_erp_postings') }}

),

postings as (

    select * from {{ ref('int_erp_postings_deduplicated') }}

),

reversal_accounts as (

    select min(gl_account) as gl_account
    from {{ ref('gl_account_map') }}
    where {{ normalized('canonical_status') }} = 'reversed'

),

calendar as (

    select
        accounting_period,
        max(case when is_locked_at_as_of then 1 else 0 end) = 1 as is_locked
    from {{ ref('stg_erp__accounting_periods') }}
    where is_accepted
    group by accounting_period

),

as_of_period as (

    select {{ accounting_period(as_of_literal()) }} as accounting_period

),

refund_faults as (

    -- One row per processor refund with an ERP-side variance: its variance
    -- id per type.
    select
        refund_key,
        {%- for name, variance_type in fix_types %}
        max(case when variance_type = '{{ variance_type }}' then variance_id end) as {{ name }}_variance_id,
        {%- endfor %}
        max(refund_period) as refund_period
    from variances
    where key_system = 'processor'
    group by refund_key

),

open_periods as (

    -- Each locked refund period's earliest open period after it (else the
    -- period of as_of).
    select
        locked_calendar.accounting_period as locked_period,
        coalesce(min(later.accounting_period), min(as_of_period.accounting_period)) as open_period
    from calendar as locked_calendar
    cross join as_of_period
    left join calendar as later
        on
            locked_calendar.accounting_period < later.accounting_period
            and not later.is_locked
    where locked_calendar.is_locked
    group by locked_calendar.accounting_period

),

plans as (

    select
        refund_faults.*,
        refunds.erp_document_id as primary_document_id,
        expected.processor_refund_id,
        expected.order_id,
        expected.posting_requirement,
        expected.expected_gl_account,
        expected.expected_refund_scope,
        expected.amount as expected_amount,
        expected.currency as expected_currency,
        expected.expected_reason_code,
        coalesce(open_periods.open_period, expected.expected_posting_period) as posting_period,
        open_periods.locked_period is not null as is_period_locked,
        -- The posting that speaks for the refund is wrong and can be replaced.
        refunds.erp_document_id is not null
        and refunds.erp_reversal_count = 0
        and expected.posting_requirement in ('required', 'optional', 'none')
        and (expected.posting_requirement <> 'required' or expected.expected_gl_account is not null)
        and coalesce(
            refund_faults.currency_variance_id, refund_faults.amount_variance_id, refund_faults.collapsed_variance_id,
            refund_faults.status_variance_id, refund_faults.period_variance_id, refund_faults.reason_variance_id
        ) is not null as is_primary_wrong,
        coalesce(
            refund_faults.currency_variance_id, refund_faults.amount_variance_id, refund_faults.collapsed_variance_id,
            refund_faults.status_variance_id, refund_faults.period_variance_id, refund_faults.reason_variance_id,
            refund_faults.missing_variance_id
        ) as fix_variance_id,
        case
            when refund_faults.currency_variance_id is not null then 'reverse_and_repost'
            when coalesce(refund_faults.amount_variance_id, refund_faults.collapsed_variance_id) is not null
                then 'adjust_amount'
            else 'reverse_and_repost'
        end as fix_action,
        case
            when refund_faults.currency_variance_id is not null then 'the currency differs from the processor refund'
            when refund_faults.amount_variance_id is not null then 'the amount differs from the processor refund'
            when refund_faults.collapsed_variance_id is not null then 'it carries the amount of another refund of the order'
            when refund_faults.status_variance_id is not null then 'its GL state or scope is not what the processor status requires'
            when refund_faults.period_variance_id is not null then 'it is booked outside the period of the confirmation'
            when refund_faults.reason_variance_id is not null then 'its reason code is not the one the refund reason requires'
        end as fix_reason
    from refund_faults
    inner join refunds
        on refund_faults.refund_key = refunds.refund_key
    inner join expected
        on refund_faults.refund_key = expected.processor_refund_id
    left join open_periods
        on refund_faults.refund_period = open_periods.locked_period

),

reversals as (

    -- The posting that speaks for a refund, where it is wrong.
    select
        plans.fix_variance_id as variance_id,
        plans.fix_action as correction_action,
        'reverse' as step,
        postings.*,
        {{ sentence([
            "'Reverses '", 'postings.erp_document_id', "' ('",
            format_money('postings.amount_minor', 'postings.minor_units', 'postings.currency'),
            "' on GL account '", 'postings.gl_account', "', period '", 'postings.posting_period',
            "'): '", 'plans.fix_reason',
            "case when plans.posting_requirement = 'required' then '; the next entry reposts it' "
                ~ "else '; the processor holds no succeeded refund, so nothing is reposted' end",
            "'.'",
        ]) }} as explanation
    from plans
    inner join postings
        on plans.primary_document_id = postings.erp_document_id
    where plans.is_primary_wrong

    union all

    -- Every later booking with the same processor refund id.
    select
        plans.duplicate_variance_id as variance_id,
        'reverse_duplicate' as correction_action,
        'reverse' as step,
        postings.*,
        {{ sentence([
            "'Reverses '", 'postings.erp_document_id', "' ('",
            format_money('postings.amount_minor', 'postings.minor_units', 'postings.currency'),
            "'), a second booking of processor refund '", 'postings.processor_refund_id', "'.'",
        ]) }} as explanation
    from plans
    inner join postings
        on
            plans.refund_key = postings.processor_refund_id
            and postings.posting_role = 'duplicate'
    where plans.duplicate_variance_id is not null

    union all

    -- A posting that links to no processor refund.
    select
        variances.variance_id,
        'reverse_orphan' as correction_action,
        'reverse' as step,
        postings.*,
        {{ sentence([
            "'Reverses '", 'postings.erp_document_id', "' ('",
            format_money('postings.amount_minor', 'postings.minor_units', 'postings.currency'),
            "'), which links to no processor refund'",
            "case when postings.processor_refund_id is null then ' (it carries no processor refund id)' "
                ~ "else ' (the processor does not know ' || postings.processor_refund_id || ')' end",
            "'; if it is a refund booked under a wrong id, its correct booking is proposed for that refund.'",
        ]) }} as explanation
    from variances
    inner join postings
        on
            variances.refund_key = postings.erp_document_id
            and postings.posting_role = 'orphan'
    where
        variances.variance_type = 'orphan_erp_posting'
        and variances.key_system = 'erp'

),

reversal_entries as (

    select
        reversals.variance_id,
        reversals.correction_action,
        reversals.step,
        reversals.erp_document_id as reverses_document_id,
        reversals.processor_refund_id,
        reversals.order_id,
        reversal_accounts.gl_account,
        reversals.amount_minor,
        reversals.minor_units,
        reversals.currency,
        reversals.reason_code,
        reversals.refund_type,
        as_of_period.accounting_period as posting_period,
        reversals.explanation
    from reversals
    cross join reversal_accounts
    cross join as_of_period
    where reversal_accounts.gl_account is not null

),

posting_entries as (

    -- What the ERP should hold, where it holds nothing right.
    select
        plans.fix_variance_id as variance_id,
        case
            when plans.is_period_locked then 'post_in_open_period'
            when plans.is_primary_wrong then plans.fix_action
            else 'post_missing'
        end as correction_action,
        'post' as step,
        cast(null as {{ dbt.type_string() }}) as reverses_document_id,
        plans.processor_refund_id,
        plans.order_id,
        plans.expected_gl_account as gl_account,
        refunds.processor_amount_minor as amount_minor,
        refunds.processor_minor_units as minor_units,
        plans.expected_currency as currency,
        coalesce(plans.expected_reason_code, refunds.erp_reason_code) as reason_code,
        plans.expected_refund_scope as refund_type,
        plans.posting_period,
        {{ sentence([
            "case when plans.is_primary_wrong then 'Reposts' else 'Posts the missing' end",
            "' refund '", 'plans.processor_refund_id', "': '",
            format_money('refunds.processor_amount_minor', 'refunds.processor_minor_units', 'plans.expected_currency'),
            "' on GL account '", 'plans.expected_gl_account', "' (succeeded, '", 'plans.expected_refund_scope',
            "') in period '", 'plans.posting_period',
            "case when plans.expected_reason_code is not null then ' with reason code ' || plans.expected_reason_code else '' end",
            "case when plans.is_period_locked then ' (its own period ' || plans.refund_period || ' is locked at as_of)' else '' end",
            "'.'",
        ]) }} as explanation
    from plans
    inner join refunds
        on plans.refund_key = refunds.refund_key
    where
        plans.posting_requirement = 'required'
        and plans.expected_gl_account is not null
        and (
            plans.is_primary_wrong
            or (
                plans.primary_document_id is null
                and coalesce(plans.missing_variance_id, plans.collapsed_variance_id) is not null
            )
        )

),

entries as (

    select * from reversal_entries
    union all
    select * from posting_entries

),

final as (

    select
        cast(
            {{ dbt.concat(["'RC-'", 'substr(' ~ dbt.hash(dbt.concat([
                'entries.variance_id', "'|'", 'entries.step', "'|'", "coalesce(entries.reverses_document_id, '')",
            ])) ~ ', 1, 16)']) }}
            as {{ dbt.type_string() }}
        ) as erp_document_id,
        cast(entries.processor_refund_id as {{ dbt.type_string() }}) as processor_refund_id,
        cast(entries.order_id as {{ dbt.type_string() }}) as order_id,
        cast(entries.gl_account as {{ dbt.type_string() }}) as gl_account,
        cast(
            {{ major_to_text(minor_to_major('entries.amount_minor', 'entries.minor_units'), 'entries.minor_units') }}
            as {{ dbt.type_string() }}
        ) as amount,
        cast(entries.currency as {{ dbt.type_string() }}) as currency,
        cast(entries.reason_code as {{ dbt.type_string() }}) as reason_code,
        cast(entries.refund_type as {{ dbt.type_string() }}) as refund_type,
        cast({{ as_of_literal() }} as {{ dbt.type_timestamp() }}) as posted_at,
        cast({{ as_of_literal() }} as {{ dbt.type_timestamp() }}) as received_at,
        cast(entries.posting_period as {{ dbt.type_string() }}) as posting_period,
        cast(entries.reverses_document_id as {{ dbt.type_string() }}) as reverses_document_id,
        cast(
            {{ dbt.hash(dbt.concat([
                'entries.variance_id', "'|'", 'entries.step', "'|'", "coalesce(entries.reverses_document_id, '')",
            ])) }}
            as {{ dbt.type_string() }}
        ) as correction_id,
        cast(entries.variance_id as {{ dbt.type_string() }}) as variance_id,
        cast(entries.correction_action as {{ dbt.type_string() }}) as action,  -- noqa: RF04
        cast(entries.explanation as {{ dbt.type_string() }}) as explanation,
        {{ checkpoint_id_constant() }} as checkpoint_id
    from entries

)

select * from final
