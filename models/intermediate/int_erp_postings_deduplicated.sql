{#- One row per ERP document (repeated export rows and corrected versions of a
    document collapsed to its latest version, received when it first arrived),
    its GL account mapped to the state it records, and
    its role under the idempotency key (the processor refund id):
      primary   - the earliest booking that links to a processor refund
      duplicate - every later booking with the same processor refund id
      reversal  - a posting to a `reversed` account (nets a booking out)
      reversing - a posting that names the document it reverses
                  (reverses_document_id, checked in staging) and
      reversed  - the document it reverses: the pair nets out and takes no
                  part in the reconciliation (neither primary, duplicate,
                  orphan nor reversal)
      orphan    - links to no processor refund (no id, or one the processor
                  does not know) -#}

with

postings as (

    select * from {{ ref('stg_erp__refund_postings') }}
    where is_accepted

),

gl_account_map as (

    select * from {{ ref('gl_account_map') }}

),

processor_refunds as (

    select processor_refund_id from {{ ref('int_processor_refunds_collapsed') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by erp_document_id
            order by received_at desc, posted_at desc, source_file desc, source_row_number desc
        ) as recency_rank,
        count(*) over (partition by erp_document_id) as source_row_count,
        -- A corrected version of a document is not a late delivery: the
        -- refund reached the ERP when the document first arrived.
        min(received_at) over (partition by erp_document_id) as first_received_at
    from postings

),

documents as (

    select
        ranked.*,
        {{ normalized('gl_account_map.canonical_status') }} as gl_status,
        {{ normalized('gl_account_map.refund_scope') }} as gl_refund_scope,
        gl_account_map.gl_account is not null as is_gl_account_mapped,
        processor_refunds.processor_refund_id is not null as is_linked
    from ranked
    left join gl_account_map
        on {{ normalized('gl_account_map.gl_account') }} = {{ normalized('ranked.gl_account') }}
    left join processor_refunds
        on ranked.processor_refund_id = processor_refunds.processor_refund_id
    where ranked.recency_rank = 1

),

netted as (

    select
        documents.*,
        documents.reverses_document_id is not null as is_reversing,
        reversing.erp_document_id is not null as is_reversed
    from documents
    left join documents as reversing
        on documents.erp_document_id = reversing.reverses_document_id

),

booking_ranked as (

    select
        *,
        case
            when is_linked and coalesce(gl_status, '') <> 'reversed' and not is_reversing and not is_reversed
                then row_number() over (
                    partition by
                        processor_refund_id,
                        is_linked and coalesce(gl_status, '') <> 'reversed' and not is_reversing and not is_reversed
                    order by posted_at, received_at, erp_document_id
                )
        end as booking_rank
    from netted

),

final as (

    select
        erp_document_id,
        processor_refund_id,
        order_id,
        reverses_document_id,
        gl_account,
        gl_status,
        gl_refund_scope,
        reason_code,
        refund_type,
        posting_period,
        currency,
        amount_minor,
        minor_units,
        source_row_count,
        -- the input row of the current version (the audit trail marks the others superseded)
        source_shape,
        source_file,
        source_row_number,
        is_linked,
        is_gl_account_mapped,
        posted_at,
        first_received_at as received_at,
        case
            when is_reversing then 'reversing'
            when is_reversed then 'reversed'
            when not is_linked then 'orphan'
            when gl_status = 'reversed' then 'reversal'
            when booking_rank = 1 then 'primary'
            else 'duplicate'
        end as posting_role
    from booking_ranked

)

select * from final
