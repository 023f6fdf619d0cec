{#- What an incremental checkpoint recomputes (macros/checkpoint), third
    step, once int_refunds_matched is up to date: the refund keys whose
    variances can change, one row per (key_system, refund_key). The touched
    refunds; every refund of a touched order; every refund whose SLA clock
    ran out between the previous checkpoint's as_of and this one's
    (missing_in_erp, missing_at_processor); and with each, all the refunds of
    its order (partial refunds are judged per order). The ERP calendar
    (locked periods) comes only with NetSuite, which checkpoints in full.
    Empty on a full run. -#}

-- depends_on: {{ ref('int_refunds_matched') }}, {{ ref('int_checkpoint_touched_refunds') }}

with

{% if checkpoint_run_mode() == 'incremental' %}

{%- set sla_seconds = confirmation_sla_minutes() ~ ' * 60' -%}
{%- set previous_as_of = '(select max(as_of) from ' ~ checkpoint_state_relation() ~ ')' %}

refunds as (

    select key_system, refund_key, order_id, confirmed_at, storefront_created_at
    from {{ ref('int_refunds_matched') }}

),

touched_or_on_the_clock as (

    select key_system, refund_key, order_id
    from refunds
    where
        (key_system, refund_key) in ({{ touched_refund_keys() }})
        or order_id in ({{ touched_orders() }})
        {%- for column in ['confirmed_at', 'storefront_created_at'] %}
        or coalesce({{ dbt.datediff(column, as_of_literal(), 'second') }} > {{ sla_seconds }}, false)
        <> coalesce({{ dbt.datediff(column, previous_as_of, 'second') }} > {{ sla_seconds }}, false)
        {%- endfor %}

),

scope as (

    select key_system, refund_key from refunds
    where order_id in (select order_id from touched_or_on_the_clock)
    union
    select key_system, refund_key from touched_or_on_the_clock
    union
    -- keys that no longer exist (a storefront refund now linked): their old
    -- variance rows go
    {{ touched_refund_keys() }}

),

{% else %}

scope as (

    select
        cast(null as {{ dbt.type_string() }}) as key_system,
        cast(null as {{ dbt.type_string() }}) as refund_key
    where 1 = 0

),

{% endif %}

final as (

    select
        cast(key_system as {{ dbt.type_string() }}) as key_system,
        cast(refund_key as {{ dbt.type_string() }}) as refund_key
    from scope

)

select * from final
