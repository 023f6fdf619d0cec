{#- Acknowledgement contract (an error: the build fails, like the mapping
    contracts): every row of seed variance_acknowledgements names a variance
    id and a known variance type, says who acknowledged it, when and why, in
    a known currency with the delta as exact decimal text at the currency's
    exponent (empty only for a variance without a delta), and real dates
    (YYYY-MM-DD; expires_on optional, not before acknowledged_at). One row
    per variance id: the unique_key test in seeds/_seeds.yml. Each row
    returned is a seed row to correct: its variance id, the column and why. -#}

with

acknowledgements as (

    select * from {{ ref('variance_acknowledgements') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

trimmed as (

    select
        {{ seed_text('acknowledgements.variance_id') }} as variance_id,
        lower({{ seed_text('acknowledgements.variance_type') }}) as variance_type,
        upper({{ seed_text('acknowledgements.currency') }}) as currency,
        currencies.minor_units,
        {{ seed_text('acknowledgements.amount_delta') }} as amount_delta,
        {{ seed_text('acknowledgements.acknowledged_by') }} as acknowledged_by,
        {{ seed_text('acknowledgements.acknowledged_at') }} as acknowledged_at,
        {{ seed_text('acknowledgements.reason') }} as reason,
        {{ seed_text('acknowledgements.expires_on') }} as expires_on
    from acknowledgements
    left join currencies
        on upper({{ seed_text('acknowledgements.currency') }}) = currencies.currency

),

flagged as (

    select
        variance_id,
        coalesce(variance_id, '') = '' as lacks_variance_id,
        coalesce(variance_type not in (
            {%- for type in amount_at_stake_basis() %}
            '{{ type }}'{{ ',' if not loop.last }}
            {%- endfor %}
        ), true) as has_unknown_type,
        minor_units is null as has_unknown_currency,
        amount_delta is not null
        and {{ acknowledged_delta_minor('amount_delta', 'minor_units') }} is null as has_inexact_delta,
        acknowledged_by is null as lacks_acknowledged_by,
        reason is null as lacks_reason,
        acknowledged_at is null or not ({{ is_calendar_date('acknowledged_at') }}) as has_bad_acknowledged_at,
        expires_on is not null and not ({{ is_calendar_date('expires_on') }}) as has_bad_expires_on,
        acknowledged_at,
        expires_on
    from trimmed

),

checked as (

    select
        variance_id,
        case
            when lacks_variance_id then 'variance_id'
            when has_unknown_type then 'variance_type'
            when has_unknown_currency then 'currency'
            when has_inexact_delta then 'amount_delta'
            when lacks_acknowledged_by then 'acknowledged_by'
            when lacks_reason then 'reason'
            when has_bad_acknowledged_at then 'acknowledged_at'
            when has_bad_expires_on then 'expires_on'
            when cast(expires_on as date) < cast(acknowledged_at as date) then 'expires_on'
        end as failing_column,
        case
            when lacks_variance_id then 'is empty: name the variance (fct_refund_variances.variance_id)'
            when has_unknown_type then 'is not a variance type (docs/spec/variance-rules.md)'
            when has_unknown_currency then 'is not a currency of seed currencies'
            when has_inexact_delta
                then 'is not exact decimal text at the exponent of its currency (12.50; empty for a variance without a delta)'
            when lacks_acknowledged_by then 'is empty: say who acknowledged the variance'
            when lacks_reason then 'is empty: say why the variance is accepted'
            when has_bad_acknowledged_at then 'is not a date YYYY-MM-DD'
            when has_bad_expires_on then 'is not a date YYYY-MM-DD (or leave it empty: no expiry)'
            when cast(expires_on as date) < cast(acknowledged_at as date) then 'is before acknowledged_at'
        end as problem
    from flagged

),

final as (

    select
        variance_id,
        failing_column,
        problem
    from checked
    where failing_column is not null

)

select * from final
