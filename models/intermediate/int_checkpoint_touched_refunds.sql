{#- What an incremental checkpoint recomputes (macros/checkpoint), second
    step, once the per-system models are up to date: the refund keys of
    int_refunds_matched whose row can change (touched_kind 'refund',
    touched_id = key_system, a colon, refund_key; key_system and refund_key
    too), and the orders whose refunds can change (touched_kind 'order'),
    before or after this checkpoint's rows. Empty on a full run.
      - ('processor', id) for every touched processor refund id;
      - ('storefront', id) for a storefront refund with a new row, or whose
        current processor refund id is touched (it may have become linked);
      - ('erp', id) likewise for an ERP document;
      - every order id on any row, old or new, of those refunds: a refund's
        order before and after (partial refunds, the three-column view). -#}

-- depends_on: {{ ref('int_checkpoint_touched_keys') }}, {{ ref('int_storefront_refunds_deduplicated') }}, {{ ref('int_erp_postings_deduplicated') }}
-- depends_on: {{ ref('stg_storefront__refunds') }}, {{ ref('stg_processor__refund_events') }}, {{ ref('stg_erp__refund_postings') }}

with

{% if checkpoint_run_mode() == 'incremental' %}

touched_processor_refunds as (

    {{ touched('processor_refund') }}

),

storefront_refunds as (

    {{ touched('new_storefront_refund') }}
    union
    select storefront_refund_id from {{ ref('int_storefront_refunds_deduplicated') }}
    where processor_refund_id in (select touched_id from touched_processor_refunds)

),

erp_documents as (

    {{ touched('new_erp_document') }}
    union
    select erp_document_id from {{ ref('int_erp_postings_deduplicated') }}
    where processor_refund_id in (select touched_id from touched_processor_refunds)

),

refund_keys as (

    select 'processor' as key_system, touched_id as refund_key from touched_processor_refunds
    union all
    select 'storefront', touched_id from storefront_refunds
    union all
    select 'erp', touched_id from erp_documents

),

orders as (

    select order_id from {{ ref('stg_processor__refund_events') }}
    where processor_refund_id in (select touched_id from touched_processor_refunds)
    union
    select order_id from {{ ref('stg_storefront__refunds') }}
    where storefront_refund_id in (select touched_id from storefront_refunds)
    union
    select order_id from {{ ref('stg_erp__refund_postings') }}
    where erp_document_id in (select touched_id from erp_documents)

),

touched as (

    select 'refund' as touched_kind, key_system, refund_key from refund_keys
    union all
    select 'order', null, order_id from orders

),

{% else %}

touched as (

    select
        cast(null as {{ dbt.type_string() }}) as touched_kind,
        cast(null as {{ dbt.type_string() }}) as key_system,
        cast(null as {{ dbt.type_string() }}) as refund_key
    where 1 = 0

),

{% endif %}

final as (

    select
        cast(touched_kind as {{ dbt.type_string() }}) as touched_kind,
        cast(key_system as {{ dbt.type_string() }}) as key_system,
        cast(refund_key as {{ dbt.type_string() }}) as touched_id
    from touched
    where refund_key is not null

)

select * from final
