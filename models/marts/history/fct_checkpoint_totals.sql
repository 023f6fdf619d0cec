{#- The checkpoint's totals as a long table, beside fct_checkpoint_runs: one
    row per checkpoint x system x currency x measure, a count and an exact
    amount in major units (filter and pivot it in a BI tool instead of
    parsing fct_checkpoint_runs' text totals). Measures:

      records_read            input rows read (accepted and rejected); amount
                              = the rows whose amount could be parsed
      records_rejected        input rows rejected (fct_rejected_rows)
      refund_total            what the system holds (rpt_refund_reconciliation:
                              the ERP's every posting, reversals netted); count
                              = refunds, or ERP postings
      succeeded_refund_total  the same for refunds whose canonical status is
                              succeeded (what the ledger must book)
      open_variances          variances open at the checkpoint, by the system
                              at fault; amount = the sum of their
                              amount_at_stake as fct_variance_history records
                              it (the variance mart's, per variance type)
      new_variances           the open variances first seen at this checkpoint
      resolved_variances      variances open at the previous checkpoint and
                              gone at this one (their last amount at stake)
      acknowledged_variances  the open variances an active acknowledgement
                              accepts (seed variance_acknowledgements): in
                              open_variances too, not counted against clean

    A variance measure's amount is null when any variance it counts has no
    amount at stake recorded (history written before it was; counted in
    unvalued_variance_count), never a partial sum. Rows written before
    unvalued_variance_count existed have it null: their variance amounts are
    the older sum of |amount_delta|, not the amount at stake.

    A measure with nothing to count has no row. Incremental and never fully
    refreshed like fct_checkpoint_runs: a re-run of one as_of replaces its
    rows. -#}

{{ config(pre_hook="{{ replace_current_checkpoint('as_of') }}", **checkpoint_history_config('as_of')) }}

with

input_rows as (

    -- the three refund inputs (the period calendar carries no money)
    select * from {{ ref('int_input_rows') }}
    where input_name in ('storefront_refunds', 'processor_refunds', 'erp_refund_postings')

),

reconciliation as (

    select * from {{ ref('rpt_refund_reconciliation') }}

),

history as (

    select * from {{ ref('fct_variance_history') }}
    where checkpoint_as_of = {{ as_of_literal() }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

input_measures as (

    select
        system_name,
        currency,
        'records_read' as measure,
        count(*) as record_count,
        sum({{ minor_to_major('amount_minor', 'minor_units') }}) as amount,
        cast(null as {{ dbt.type_bigint() }}) as unvalued_variance_count
    from input_rows
    group by system_name, currency
    union all
    select
        system_name,
        currency,
        'records_rejected' as measure,
        count(*) as record_count,
        sum({{ minor_to_major('amount_minor', 'minor_units') }}) as amount,
        cast(null as {{ dbt.type_bigint() }}) as unvalued_variance_count
    from input_rows
    where not is_accepted
    group by system_name, currency

),

reconciliation_measures as (

    {%- for measure, condition in [('refund_total', '1 = 1'), ('succeeded_refund_total', "canonical_status = 'succeeded'")] %}
    {%- set outer_loop = loop %}
    {%- for system_name, count_column in [
        ('storefront', 'storefront_refund_count'),
        ('processor', 'processor_refund_count'),
        ('erp', 'erp_posting_count'),
    ] %}
    select
        '{{ system_name }}' as system_name,
        currency,
        '{{ measure }}' as measure,
        sum({{ count_column }}) as record_count,
        sum({{ system_name }}_refund_total) as amount,
        cast(null as {{ dbt.type_bigint() }}) as unvalued_variance_count
    from reconciliation
    where {{ condition }}
    group by currency
    having sum({{ count_column }}) > 0
    {%- if not (loop.last and outer_loop.last) %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- endfor %}

),

variance_measures as (

    {%- for measure, condition in [
        ('open_variances', "state = 'open'"),
        ('new_variances', "state = 'open' and first_detected_at = checkpoint_as_of"),
        ('resolved_variances', "state = 'resolved'"),
        ('acknowledged_variances', "state = 'open' and acknowledgement_state = 'active'"),
    ] %}
    select
        discrepancy_system as system_name,
        currency,
        '{{ measure }}' as measure,
        count(*) as record_count,
        case
            when count(amount_at_stake_minor) = count(*)
                then sum({{ minor_to_major('amount_at_stake_minor', 'minor_units') }})
        end as amount,
        count(*) - count(amount_at_stake_minor) as unvalued_variance_count
    from history
    where {{ condition }}
    group by discrepancy_system, currency
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

measures as (

    select * from input_measures
    union all
    select * from reconciliation_measures
    union all
    select * from variance_measures

),

final as (

    select
        cast({{ checkpoint_id() }} as {{ dbt.type_string() }}) as checkpoint_id,
        {{ as_of_literal() }} as as_of,
        cast(measures.system_name as {{ dbt.type_string() }}) as system,  -- noqa: RF04
        cast(measures.currency as {{ dbt.type_string() }}) as currency,
        cast(currencies.minor_units as integer) as minor_units,
        cast(measures.measure as {{ dbt.type_string() }}) as measure,
        cast(measures.record_count as {{ dbt.type_bigint() }}) as record_count,
        cast(measures.amount as decimal(38, 4)) as amount,
        cast(measures.unvalued_variance_count as {{ dbt.type_bigint() }}) as unvalued_variance_count
    from measures
    left join currencies
        on measures.currency = currencies.currency

)

select * from final
