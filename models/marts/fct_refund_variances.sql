{#- The variance report: one row per open variance, with the amounts each
    system holds, the delta, and one sentence a finance person can act on.
    first_detected_at and the acknowledgement come from the checkpoint history
    (fct_variance_history); an acknowledged variance stays here, flagged;
    amount_at_stake from int_refund_variances_detected, as the history records it. -#}

with

variances as (

    select * from {{ ref('int_refund_variances_detected') }}

),

refunds as (

    select * from {{ ref('int_refunds_matched') }}

),

history as (

    select * from {{ ref('fct_variance_history') }}
    where state = 'open'

),

joined as (

    select
        refunds.*,
        variances.variance_id,
        variances.variance_type,
        variances.discrepancy_system,
        variances.erp_state,
        variances.erp_scope,
        variances.refund_scope,
        variances.required_gl_reason_code,
        variances.refund_period,
        variances.amount_delta_minor,
        variances.amount_at_stake_minor,
        variances.currency,
        variances.minor_units,
        variances.as_of,
        coalesce(history.first_detected_at, variances.as_of) as first_detected_at,
        coalesce(history.acknowledgement_state = 'active', false) as is_acknowledged,
        case when history.acknowledgement_state = 'active' then history.acknowledged_by end as acknowledged_by,
        case when history.acknowledgement_state = 'active' then history.acknowledgement_reason end
            as acknowledgement_reason,
        case when history.acknowledgement_state = 'active' then history.acknowledgement_expires_on end
            as acknowledgement_expires_on
    from variances
    inner join refunds
        on
            variances.key_system = refunds.key_system
            and variances.refund_key = refunds.refund_key
    left join history
        on
            variances.variance_id = history.variance_id
            and variances.as_of = history.checkpoint_as_of

),

measured as (

    select
        *,
        {{ format_money('processor_amount_minor', 'processor_minor_units', 'processor_currency') }} as processor_money,
        {{ format_money('storefront_amount_minor', 'storefront_minor_units', 'storefront_currency') }} as storefront_money,
        {{ format_money('erp_amount_minor', 'erp_minor_units', 'erp_currency') }} as erp_money,
        {{ format_money('erp_duplicate_amount_minor', 'erp_minor_units', 'erp_currency') }} as erp_duplicate_money,
        case discrepancy_system
            when 'storefront' then storefront_currency
            when 'processor' then processor_currency
            else erp_currency
        end as disputed_currency,
        case discrepancy_system
            when 'storefront' then 'The storefront'
            when 'processor' then 'The processor'
            else 'The ERP'
        end as system_label,
        case
            when processor_status = 'succeeded'
                then {{ dbt.concat(["'a succeeded '", "coalesce(refund_scope || ' ', '')", "'refund posting'"]) }}
            when processor_status in ('pending', 'requested') then 'no posting yet, or a pending one'
            else 'no posting, or a reversal that nets it out'
        end as required_erp_state,
        {{ accounting_period('confirmed_at') }} as confirmed_period,
        -- BI columns: the refund's date and period in the business timezone,
        -- its age at as_of (README: variances by age).
        {{ dbt.concat(['key_system', "':'", 'refund_key']) }} as audit_refund_key,
        cast({{ to_business_time('coalesce(processor_created_at, storefront_created_at, erp_posted_at)') }} as date)
            as refund_date,
        coalesce(
            erp_posting_period,
            refund_period,
            {{ accounting_period('coalesce(processor_created_at, storefront_created_at, erp_posted_at)') }}
        ) as posting_period,
        cast({{ to_business_time('as_of') }} as date) as as_of_date,
        {{ dbt.datediff('confirmed_at', 'erp_received_at', 'minute') }} as receipt_lag_minutes
    from joined

),

described as (

    select
        *,
        case variance_type
            when 'missing_in_erp' then {{ sentence([
                "'Refund '", 'refund_key', "' ('", 'processor_money', "') succeeded at the processor at '",
                'confirmed_at', "' UTC but no ERP posting references it; post it to the ERP with external reference '",
                'refund_key', "'.'"]) }}
            when 'missing_in_storefront' then {{ sentence([
                "'Processor refund '", 'refund_key', "' ('", 'processor_money', "', status '", 'processor_raw_status',
                "') has no storefront record; check whether it was issued outside the storefront and record it there.'"]) }}
            when 'missing_at_processor' then {{ sentence([
                "'Storefront refund '", 'storefront_refund_id', "' for order '", 'order_id', "' ('", 'storefront_money',
                "', created '", 'storefront_created_at', "' UTC) has no processor refund; confirm with the processor that the money was returned.'"]) }}
            when 'orphan_erp_posting' then {{ sentence([
                "'ERP document '", 'erp_document_id', "' ('", 'erp_money', "', account '", 'erp_gl_account',
                "') links to no processor refund; find the refund it belongs to or reverse the posting.'"]) }}
            when 'amount_mismatch' then {{ sentence([
                'system_label', "' records '", 'case when discrepancy_system = ' ~ "'storefront'" ~ ' then storefront_money else erp_money end',
                "' for refund '", 'refund_key', "' but the processor refunded '", 'processor_money',
                "'; correct the entry to the processor amount.'"]) }}
            when 'currency_mismatch' then {{ sentence([
                'system_label', "' records refund '", 'refund_key', "' in '", 'disputed_currency',
                "' but the processor refunded it in '", 'processor_currency', "'; re-post it in '", 'processor_currency', "'.'"]) }}
            when 'status_mismatch' then {{ sentence([
                "'The ERP books refund '", 'refund_key', "' to GL account '", 'erp_gl_account', "' ('", 'erp_state',
                "case when erp_scope is not null then ', ' || erp_scope else '' end",
                "') but the processor status is '", 'processor_status', "', which requires '", 'required_erp_state',
                "'; correct the posting.'"]) }}
            when 'partial_refund_collapsed' then {{ sentence([
                "'Order '", 'order_id', "' has several succeeded partial refunds but the ERP holds fewer postings; refund '",
                'refund_key', "' ('", 'processor_money', "') '",
                "case when erp_document_id is null then 'has no posting of its own' else 'is booked as ' || erp_money end",
                "'; post each partial refund separately.'"]) }}
            when 'duplicate_erp_posting' then {{ sentence([
                "'Refund '", 'refund_key', "' is posted '", 'erp_duplicate_count + 1', "' times in the ERP; the postings after document '",
                'erp_document_id', "' are duplicates ('", 'erp_duplicate_money', "' in all): reverse them.'"]) }}
            when 'confirmation_lag' then {{ sentence([
                "'The ERP received refund '", 'refund_key', "' at '", 'erp_received_at', "' UTC, '", 'receipt_lag_minutes',
                "' minutes after the processor confirmed it at '", 'confirmed_at', "' UTC (SLA '",
                "'" ~ confirmation_sla_minutes() ~ "'", "' minutes); check the integration delivery delay.'"]) }}
            when 'wrong_period' then {{ sentence([
                "'The ERP books refund '", 'refund_key', "' in period '", 'erp_posting_period',
                "' but the processor confirmed it in '", 'confirmed_period', "' ('", "'" ~ business_timezone() ~ "'",
                "'); move the posting to '", 'confirmed_period', "'.'"]) }}
            when 'locked_period_posting' then {{ sentence([
                "'Refund '", 'refund_key', "' belongs to period '", 'refund_period',
                "', which the ERP has closed or locked; the correction its other variances call for must go in as an adjusting entry in an open period.'"]) }}
            when 'unmapped_status'
                then
                    case discrepancy_system
                        when 'erp' then {{ sentence([
                        "'GL account '", 'erp_gl_account', "' on ERP document '", 'erp_document_id',
                        "' has no row in gl_account_map; add it so the refund state can be checked.'"]) }}
                        when 'storefront' then {{ sentence([
                        "'Storefront status '''", 'storefront_raw_status', "''' ('", 'storefront_system_name',
                        "') of refund '", 'refund_key', "' has no row in refund_status_map; add a mapping so it can be reconciled.'"]) }}
                        else {{ sentence([
                        "'Processor status '''", 'processor_raw_status', "''' ('", 'processor',
                        "') of refund '", 'refund_key', "' has no row in refund_status_map; add a mapping so it can be reconciled.'"]) }}
                    end
            when 'unmapped_reason'
                then
                    case discrepancy_system
                        when 'storefront' then {{ sentence([
                        "'Storefront reason '''", 'storefront_raw_reason', "''' ('", 'storefront_system_name',
                        "') of refund '", 'refund_key', "' has no row in refund_reason_map; add a mapping and its GL reason code.'"]) }}
                        else {{ sentence([
                        "'Processor reason '''", 'processor_raw_reason', "''' ('", 'processor',
                        "') of refund '", 'refund_key', "' has no row in refund_reason_map; add a mapping and its GL reason code.'"]) }}
                    end
            when 'reason_mismatch' then {{ sentence([
                "'The ERP books refund '", 'refund_key', "' with reason code '",
                "coalesce(erp_reason_code, '(none)')", "' but its reason requires '", 'required_gl_reason_code',
                "'; correct the reason code.'"]) }}
        end as detail,
        {{ sentence([
            "'storefront '", "case when has_storefront_record then 'has it' else 'lacks it' end",
            "', processor '", "case when has_processor_record then 'has it' else 'lacks it' end",
            "', erp '", "case when has_erp_record then 'has it' else 'lacks it' end"]) }} as system_of_record_discrepancy
    from measured

),

aged as (

    select
        *,
        cast({{ dbt.datediff('refund_date', 'as_of_date', 'day') }} as integer) as age_days
    from described

),

bucketed as (

    select
        *,
        case
            when age_days <= 7 then 1
            when age_days <= 30 then 2
            when age_days <= 60 then 3
            when age_days <= 90 then 4
            else 5
        end as age_bucket_order
    from aged

),

final as (

    select
        cast(variance_id as {{ dbt.type_string() }}) as variance_id,
        cast(refund_key as {{ dbt.type_string() }}) as refund_id,
        cast(audit_refund_key as {{ dbt.type_string() }}) as refund_key,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(variance_type as {{ dbt.type_string() }}) as variance_type,
        cast(discrepancy_system as {{ dbt.type_string() }}) as discrepancy_system,
        cast(system_of_record_discrepancy as {{ dbt.type_string() }}) as system_of_record_discrepancy,
        {{ minor_to_major('storefront_amount_minor', 'storefront_minor_units') }} as storefront_amount,
        cast(storefront_currency as {{ dbt.type_string() }}) as storefront_currency,
        {{ minor_to_major('processor_amount_minor', 'processor_minor_units') }} as processor_amount,
        cast(processor_currency as {{ dbt.type_string() }}) as processor_currency,
        {{ minor_to_major('erp_amount_minor', 'erp_minor_units') }} as erp_amount,
        cast(erp_currency as {{ dbt.type_string() }}) as erp_currency,
        {{ minor_to_major('amount_delta_minor', 'minor_units') }} as amount_delta,
        {{ minor_to_major('amount_at_stake_minor', 'minor_units') }} as amount_at_stake,
        cast(amount_at_stake_minor as decimal(38, 0)) as amount_at_stake_minor,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(minor_units as integer) as minor_units,
        cast(detail as {{ dbt.type_string() }}) as detail,
        first_detected_at,
        cast({{ dbt.datediff('first_detected_at', 'as_of', 'day') }} as integer)
            as days_since_first_detected,
        refund_date,
        cast(posting_period as {{ dbt.type_string() }}) as posting_period,
        age_days,
        cast(
            case age_bucket_order
                when 1 then '0-7 days'
                when 2 then '8-30 days'
                when 3 then '31-60 days'
                when 4 then '61-90 days'
                else 'over 90 days'
            end as {{ dbt.type_string() }}
        ) as age_bucket,
        cast(age_bucket_order as integer) as age_bucket_order,
        -- an active row of seed variance_acknowledgements (fct_variance_history decides)
        cast(is_acknowledged as boolean) as is_acknowledged,
        cast(acknowledged_by as {{ dbt.type_string() }}) as acknowledged_by,
        cast(acknowledgement_reason as {{ dbt.type_string() }}) as acknowledgement_reason,
        cast(acknowledgement_expires_on as date) as acknowledgement_expires_on,
        as_of,
        {{ checkpoint_id_constant() }} as checkpoint_id
    from bucketed

)

select * from final
