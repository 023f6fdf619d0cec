{#- The history of every variance across checkpoints: at each checkpoint one
    `open` row per variance it sees (carrying the first checkpoint of the
    current open streak) and one `resolved` row per variance the previous
    checkpoint saw and this one no longer does. History moves only on a
    checkpoint that saw fresh sources: on a stale one (any row of
    fct_checkpoint_sources with a stale_reason) the previous open set is
    carried forward unchanged, with its first_detected_at and no resolution,
    so a day a source sent nothing new changes no variance's state or age.
    Incremental and never fully
    refreshed: it is the record. amount_delta (major units, exact at the
    currency's exponent) sits beside the integer amount_delta_minor; a record
    created before it existed gains the column (on_schema_change
    append_new_columns) with nulls in its older rows.
    amount_at_stake(_minor) is int_refund_variances_detected's, recorded at
    every checkpoint (fct_checkpoint_totals and the report's trend read it
    here). Rows recorded before it existed have it null; a row carried
    forward or resolved from such a row takes it from amount_delta_minor
    where the type's stake is the delta (amount_mismatch,
    duplicate_erp_posting) and leaves it null where it is the refund's
    amount, which the older row does not hold. acknowledgement_state
    records the variance's row of seed variance_acknowledgements at this
    checkpoint (active, expired, superseded; resolved on a resolved row; null
    when none), with who, why and the expiry: the age keeps counting. -#}

{{ config(pre_hook="{{ replace_current_checkpoint('checkpoint_as_of') }}", **checkpoint_history_config('checkpoint_as_of')) }}

with

current_variances as (

    select * from {{ ref('int_refund_variances_detected') }}

),

staleness as (

    -- the sources stale at this checkpoint (fct_checkpoint_sources states the rule)
    select count(*) as stale_source_count
    from {{ ref('fct_checkpoint_sources') }}
    where
        checkpoint_as_of = {{ as_of_literal() }}
        and stale_reason is not null

),

{% if is_incremental() %}

{#- An older record has no amount_at_stake_minor yet: the column is added
    (append_new_columns) only after this select has run. -#}
{%- set recorded_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
{%- set recorded_stake = 'previously_open.amount_at_stake_minor' if 'amount_at_stake_minor' in recorded_columns
    else 'cast(null as ' ~ dbt.type_bigint() ~ ')' -%}

previous_checkpoint as (

    select max(checkpoint_as_of) as checkpoint_as_of
    from {{ this }}
    where checkpoint_as_of < {{ as_of_literal() }}

),

previously_open as (

    select history.*
    from {{ this }} as history
    inner join previous_checkpoint
        on history.checkpoint_as_of = previous_checkpoint.checkpoint_as_of
    where history.state = 'open'

),

{% else %}

{%- set recorded_stake = 'previously_open.amount_at_stake_minor' -%}

previously_open as (

    select * from (
        select
            cast(null as timestamp) as checkpoint_as_of,
            cast(null as {{ dbt.type_string() }}) as variance_id,
            cast(null as {{ dbt.type_string() }}) as refund_id,
            cast(null as {{ dbt.type_string() }}) as variance_type,
            cast(null as {{ dbt.type_string() }}) as discrepancy_system,
            cast(null as {{ dbt.type_string() }}) as state,
            cast(null as timestamp) as first_detected_at,
            cast(null as timestamp) as resolved_at,
            cast(null as {{ dbt.type_bigint() }}) as amount_delta_minor,
            cast(null as {{ dbt.type_string() }}) as currency,
            cast(null as integer) as minor_units,
            cast(null as decimal(38, 4)) as amount_delta,
            cast(null as {{ dbt.type_bigint() }}) as amount_at_stake_minor
    ) as no_history
    where false

),

{% endif %}

{#- A previous row's stake; from its delta where the type's stake is the delta
    and the row was recorded before the stake was. -#}
{%- set recorded_or_delta_stake = 'coalesce(' ~ recorded_stake ~ ', '
    ~ amount_at_stake_minor('previously_open.variance_type', 'previously_open.amount_delta_minor', 'cast(null as ' ~ dbt.type_bigint() ~ ')') ~ ')' -%}

open_now as (

    select
        current_variances.as_of as checkpoint_as_of,
        current_variances.variance_id,
        current_variances.refund_key as refund_id,
        current_variances.variance_type,
        current_variances.discrepancy_system,
        'open' as state,
        coalesce(previously_open.first_detected_at, current_variances.as_of) as first_detected_at,
        cast(null as timestamp) as resolved_at,
        current_variances.amount_delta_minor,
        current_variances.currency,
        current_variances.minor_units,
        {{ minor_to_major('current_variances.amount_delta_minor', 'current_variances.minor_units') }} as amount_delta,
        current_variances.amount_at_stake_minor
    from current_variances
    cross join staleness
    left join previously_open
        on current_variances.variance_id = previously_open.variance_id
    where staleness.stale_source_count = 0

),

carried_forward as (

    -- a stale checkpoint: the previous open set, unchanged
    select
        {{ as_of_literal() }} as checkpoint_as_of,
        previously_open.variance_id,
        previously_open.refund_id,
        previously_open.variance_type,
        previously_open.discrepancy_system,
        'open' as state,
        previously_open.first_detected_at,
        cast(null as timestamp) as resolved_at,
        previously_open.amount_delta_minor,
        previously_open.currency,
        previously_open.minor_units,
        {{ minor_to_major('previously_open.amount_delta_minor', 'previously_open.minor_units') }} as amount_delta,
        {{ recorded_or_delta_stake }} as amount_at_stake_minor
    from previously_open
    cross join staleness
    where staleness.stale_source_count > 0

),

resolved_now as (

    select
        {{ as_of_literal() }} as checkpoint_as_of,
        previously_open.variance_id,
        previously_open.refund_id,
        previously_open.variance_type,
        previously_open.discrepancy_system,
        'resolved' as state,
        previously_open.first_detected_at,
        {{ as_of_literal() }} as resolved_at,
        previously_open.amount_delta_minor,
        previously_open.currency,
        previously_open.minor_units,
        -- from the minor units: rows recorded before amount_delta existed have it null
        {{ minor_to_major('previously_open.amount_delta_minor', 'previously_open.minor_units') }} as amount_delta,
        {{ recorded_or_delta_stake }} as amount_at_stake_minor
    from previously_open
    cross join staleness
    left join current_variances
        on previously_open.variance_id = current_variances.variance_id
    where
        current_variances.variance_id is null
        and staleness.stale_source_count = 0

),

recorded as (

    select * from open_now
    union all
    select * from carried_forward
    union all
    select * from resolved_now

),

acknowledgements as (

    select * from {{ ref('int_variance_acknowledgements_parsed') }}

),

final as (

    -- the acknowledgement of each variance at this checkpoint (macros/rules/acknowledgements.sql)
    select
        recorded.*,
        {{ minor_to_major('recorded.amount_at_stake_minor', 'recorded.minor_units') }} as amount_at_stake,
        cast(
            case
                when acknowledgements.variance_id is null then null
                when recorded.state = 'resolved' then 'resolved'
                else {{ acknowledgement_state(
                    'acknowledgements', 'recorded.variance_type', 'recorded.currency',
                    'recorded.amount_delta_minor', 'recorded.checkpoint_as_of') }}
            end as {{ dbt.type_string() }}
        ) as acknowledgement_state,
        acknowledgements.acknowledged_by,
        acknowledgements.reason as acknowledgement_reason,
        acknowledgements.expires_on as acknowledgement_expires_on,
        -- last: an existing record gains it at the end (on_schema_change: append_new_columns)
        {{ checkpoint_id_constant() }} as checkpoint_id
    from recorded
    left join acknowledgements
        on recorded.variance_id = acknowledgements.variance_id

)

select * from final
