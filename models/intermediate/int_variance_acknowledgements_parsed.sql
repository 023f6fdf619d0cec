{#- The acknowledgement seed read once: ids and codes trimmed, the currency
    upper-cased, the acknowledged delta in integer minor units at the
    currency's exponent, the dates as dates. The contract tests
    (tests/acknowledgements/) fail the build on a row this cannot read, so
    no value here is silently null. -#}

with

acknowledgements as (

    select * from {{ ref('variance_acknowledgements') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

trimmed as (

    select
        {{ seed_text('variance_id') }} as variance_id,
        lower({{ seed_text('variance_type') }}) as variance_type,
        upper({{ seed_text('currency') }}) as currency,
        {{ seed_text('amount_delta') }} as amount_delta_text,
        {{ seed_text('acknowledged_by') }} as acknowledged_by,
        {{ seed_text('acknowledged_at') }} as acknowledged_at_text,
        {{ seed_text('reason') }} as reason,
        {{ seed_text('ticket') }} as ticket,
        {{ seed_text('expires_on') }} as expires_on_text
    from acknowledgements

),

parsed as (

    select
        trimmed.variance_id,
        trimmed.variance_type,
        trimmed.currency,
        currencies.minor_units,
        trimmed.amount_delta_text,
        {{ acknowledged_delta_minor('trimmed.amount_delta_text', 'currencies.minor_units') }} as amount_delta_minor,
        trimmed.acknowledged_by,
        case
            when {{ is_calendar_date('trimmed.acknowledged_at_text') }}
                then cast(trimmed.acknowledged_at_text as date)
        end as acknowledged_at,
        trimmed.reason,
        trimmed.ticket,
        case
            when {{ is_calendar_date('trimmed.expires_on_text') }}
                then cast(trimmed.expires_on_text as date)
        end as expires_on
    from trimmed
    left join currencies
        on trimmed.currency = currencies.currency

),

final as (

    select
        cast(variance_id as {{ dbt.type_string() }}) as variance_id,
        cast(variance_type as {{ dbt.type_string() }}) as variance_type,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(minor_units as integer) as minor_units,
        cast(amount_delta_minor as {{ dbt.type_bigint() }}) as amount_delta_minor,
        {{ minor_to_major('amount_delta_minor', 'minor_units') }} as amount_delta,
        cast(acknowledged_by as {{ dbt.type_string() }}) as acknowledged_by,
        acknowledged_at,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(ticket as {{ dbt.type_string() }}) as ticket,
        expires_on
    from parsed

)

select * from final
