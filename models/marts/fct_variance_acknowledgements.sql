{#- Every row of seed variance_acknowledgements at this checkpoint, with its
    state and why:

      active            the variance is open and still what was acknowledged
                        (type, delta, currency), and as_of is not past the end
                        of expires_on in the business timezone: it does not
                        count against a clean outcome
      expired           the variance is open and the same, but as_of is past
                        expires_on: it counts as open again
      superseded        the variance is open but changed: it counts as open
                        again (superseded wins over expired)
      resolved          a checkpoint saw the variance, this one does not
      unknown_variance  no checkpoint up to this one saw such a variance id

    The open states are fct_variance_history's (one decision per checkpoint,
    macros/rules/acknowledgements.sql); amount_at_stake is the variance's in
    fct_refund_variances. -#}

with

acknowledgements as (

    select * from {{ ref('int_variance_acknowledgements_parsed') }}

),

history as (

    select * from {{ ref('fct_variance_history') }}
    where checkpoint_as_of <= {{ as_of_literal() }}

),

variances as (

    select * from {{ ref('fct_refund_variances') }}

),

at_checkpoint as (

    select * from history
    where
        checkpoint_as_of = {{ as_of_literal() }}
        and state = 'open'

),

last_seen as (

    select
        variance_id,
        max(checkpoint_as_of) as last_seen_at
    from history
    where state = 'open'
    group by variance_id

),

joined as (

    select
        acknowledgements.*,
        at_checkpoint.variance_id as open_variance_id,
        at_checkpoint.acknowledgement_state as open_state,
        at_checkpoint.refund_id,
        at_checkpoint.variance_type as current_variance_type,
        at_checkpoint.currency as current_currency,
        at_checkpoint.amount_delta_minor as current_amount_delta_minor,
        at_checkpoint.minor_units as current_minor_units,
        at_checkpoint.first_detected_at,
        last_seen.last_seen_at,
        variances.amount_at_stake,
        {{ format_money('acknowledgements.amount_delta_minor', 'acknowledgements.minor_units', 'acknowledgements.currency') }}
            as acknowledged_money,
        {{ format_money('at_checkpoint.amount_delta_minor', 'at_checkpoint.minor_units', 'at_checkpoint.currency') }}
            as current_money
    from acknowledgements
    left join at_checkpoint
        on acknowledgements.variance_id = at_checkpoint.variance_id
    left join last_seen
        on acknowledgements.variance_id = last_seen.variance_id
    left join variances
        on acknowledgements.variance_id = variances.variance_id

),

stated as (

    select
        *,
        case
            when open_variance_id is not null then open_state
            when last_seen_at is not null then 'resolved'
            else 'unknown_variance'
        end as acknowledgement_state
    from joined

),

described as (

    select
        *,
        case acknowledgement_state
            when 'active' then {{ sentence([
                "'Variance '", 'variance_id', "' ('", 'variance_type', "', delta '",
                "coalesce(acknowledged_money, 'none')", "') is accepted by '", 'acknowledged_by', "' on '",
                'acknowledged_at', "': '", 'reason', "'; it holds while the variance stays the same'",
                "case when expires_on is null then ', with no expiry' else ' and until the end of ' || cast(expires_on as "
                ~ dbt.type_string() ~ ") || ' (" ~ business_timezone() ~ ")' end", "'.'"]) }}
            when 'expired' then {{ sentence([
                "'The acknowledgement of variance '", 'variance_id', "' by '", 'acknowledged_by',
                "' expired at the end of '", 'expires_on', "' (" ~ business_timezone() ~ "); the variance counts as open again: "
                ~ "fix it, or acknowledge it anew with a later expires_on.'"]) }}
            when 'superseded' then {{ sentence([
                "'Variance '", 'variance_id', "' changed since '", 'acknowledged_by', "' acknowledged it ('",
                'variance_type', "', delta '", "coalesce(acknowledged_money, 'none')", "'; now '",
                'current_variance_type', "', delta '", "coalesce(current_money, 'none')",
                "'); it counts as open again: review it and acknowledge it anew if it is still accepted.'"]) }}
            when 'resolved' then {{ sentence([
                "'Variance '", 'variance_id', "' is no longer open (last seen at the checkpoint of '", 'last_seen_at',
                "' UTC); remove this acknowledgement.'"]) }}
            else {{ sentence([
                "'No checkpoint up to this one has seen a variance '", 'variance_id',
                "'; check the id against fct_refund_variances.variance_id.'"]) }}
        end as state_reason
    from stated

),

final as (

    select
        cast(variance_id as {{ dbt.type_string() }}) as variance_id,
        cast(acknowledgement_state as {{ dbt.type_string() }}) as acknowledgement_state,
        cast(state_reason as {{ dbt.type_string() }}) as state_reason,
        cast(variance_type as {{ dbt.type_string() }}) as variance_type,
        {{ minor_to_major('amount_delta_minor', 'minor_units') }} as amount_delta,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(minor_units as integer) as minor_units,
        cast(acknowledged_by as {{ dbt.type_string() }}) as acknowledged_by,
        acknowledged_at,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(ticket as {{ dbt.type_string() }}) as ticket,
        expires_on,
        cast(refund_id as {{ dbt.type_string() }}) as refund_id,
        cast(current_variance_type as {{ dbt.type_string() }}) as current_variance_type,
        {{ minor_to_major('current_amount_delta_minor', 'current_minor_units') }} as current_amount_delta,
        cast(current_currency as {{ dbt.type_string() }}) as current_currency,
        cast(amount_at_stake as decimal(38, 4)) as amount_at_stake,
        first_detected_at,
        last_seen_at,
        {{ as_of_literal() }} as as_of,
        {{ checkpoint_id_constant() }} as checkpoint_id
    from described

)

select * from final
