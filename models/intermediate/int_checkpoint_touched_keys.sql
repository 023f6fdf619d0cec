{#- What an incremental checkpoint recomputes (macros/checkpoint), first
    step: the ids the rows of new deliveries can change, one row per
    (touched_kind, touched_id). int_checkpoint_touched_refunds takes it on
    to refund keys and orders. Empty on a full run, where every model
    recomputes everything.

    Staging keeps every row ever read, old versions included, so these are
    supersets of what changed (recomputing an unchanged row gives the same
    row):
      - new_processor_refund, new_storefront_refund, new_erp_document: the
        ids with a row in a new delivery;
      - processor_refund: the processor refund ids on any row, old or new,
        of those (a link may have moved, or an id become known);
      - erp_candidate: the ERP documents with a new row or with any row
        carrying a touched processor refund id (a booking rank is per
        processor refund id). -#}

-- depends_on: {{ ref('stg_storefront__refunds') }}, {{ ref('stg_processor__refund_events') }}, {{ ref('stg_erp__refund_postings') }}

with

{% if checkpoint_run_mode() == 'incremental' %}

storefront_rows as (

    select storefront_refund_id, processor_refund_id, source_file
    from {{ ref('stg_storefront__refunds') }}

),

processor_rows as (

    select processor_refund_id, source_file
    from {{ ref('stg_processor__refund_events') }}

),

erp_rows as (

    select erp_document_id, processor_refund_id, source_file
    from {{ ref('stg_erp__refund_postings') }}

),

new_processor_refunds as (

    select distinct processor_refund_id from processor_rows
    where {{ checkpoint_new_row() }}

),

new_storefront_refunds as (

    select distinct storefront_refund_id from storefront_rows
    where {{ checkpoint_new_row() }}

),

new_erp_documents as (

    select distinct erp_document_id from erp_rows
    where {{ checkpoint_new_row() }}

),

processor_refunds as (

    select processor_refund_id from new_processor_refunds
    union
    select processor_refund_id from storefront_rows
    where storefront_refund_id in (select storefront_refund_id from new_storefront_refunds)
    union
    select processor_refund_id from erp_rows
    where erp_document_id in (select erp_document_id from new_erp_documents)

),

erp_candidates as (

    select erp_document_id from new_erp_documents
    union
    select erp_document_id from erp_rows
    where processor_refund_id in (select processor_refund_id from processor_refunds)

),

touched as (

    select 'new_processor_refund' as touched_kind, processor_refund_id as touched_id from new_processor_refunds
    union all
    select 'new_storefront_refund', storefront_refund_id from new_storefront_refunds
    union all
    select 'new_erp_document', erp_document_id from new_erp_documents
    union all
    select 'processor_refund', processor_refund_id from processor_refunds
    union all
    select 'erp_candidate', erp_document_id from erp_candidates

),

{% else %}

touched as (

    select
        cast(null as {{ dbt.type_string() }}) as touched_kind,
        cast(null as {{ dbt.type_string() }}) as touched_id
    where 1 = 0

),

{% endif %}

final as (

    select
        cast(touched_kind as {{ dbt.type_string() }}) as touched_kind,
        cast(touched_id as {{ dbt.type_string() }}) as touched_id
    from touched
    where touched_id is not null

)

select * from final
