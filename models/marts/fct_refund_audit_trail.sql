{#- The audit trail: one row per record of a refund in any system, in time
    order. Every storefront row, every processor event, every ERP posting row
    (duplicates, reversals and superseded versions of a document included)
    and every rejected input row (the rows of fct_rejected_rows, same id),
    the ERP period calendar's rows among them (system erp, event
    rejected_row, is_rejected: listed in fct_rejected_rows; a row whose
    closing date is unreadable still locks its period). Accepted calendar
    rows are not records of a refund and are not here.

    refund_key is `<key_system>:<refund key>` of int_refunds_matched
    (`processor:re_123`, `storefront:sr_9`, `erp:CR-77`): one refund's whole
    life is `where refund_key = ...`, and fct_refund_variances carries the
    same key. A record is keyed the way the three-way match keys it: a
    storefront refund or ERP document by its current version's processor
    refund id where the processor knows it, else by its own id. A rejected
    row takes the key of the refund its ids point to (its own storefront
    refund or ERP document, else its processor refund id), else
    `rejected:<rejected_row_id>`. -#}

with

-- Each input's rows straight from the view int_input_rows, not through one
-- CTE of it: DuckDB materializes a CTE read four times (every input row,
-- every column, once more), where each filter here reads one staging table.
-- Measured at 1M refunds: 26 to 20 CPU-seconds (BENCHMARKS.md).
storefront_rows as (

    select * from {{ ref('int_input_rows') }}
    where input_name = 'storefront_refunds'

),

processor_rows as (

    select * from {{ ref('int_input_rows') }}
    where input_name = 'processor_refunds'

),

erp_rows as (

    select * from {{ ref('int_input_rows') }}
    where input_name = 'erp_refund_postings'

),

calendar_rows as (

    select * from {{ ref('int_input_rows') }}
    where input_name = 'erp_accounting_periods' and is_rejected

),

storefront_refunds as (

    select * from {{ ref('int_storefront_refunds_deduplicated') }}

),

processor_refunds as (

    select * from {{ ref('int_processor_refunds_collapsed') }}

),

erp_postings as (

    select * from {{ ref('int_erp_postings_deduplicated') }}

),

status_map as (

    select * from {{ ref('refund_status_map') }}

),

gl_account_map as (

    select * from {{ ref('gl_account_map') }}

),

storefront_keys as (

    -- As int_refunds_matched keys a storefront refund: by the processor
    -- refund id its current row carries, where the processor knows it.
    select
        storefront_refunds.storefront_refund_id,
        case when processor_refunds.processor_refund_id is not null then 'processor' else 'storefront' end as key_system,
        coalesce(processor_refunds.processor_refund_id, storefront_refunds.storefront_refund_id) as refund_id
    from storefront_refunds
    left join processor_refunds
        on storefront_refunds.processor_refund_id = processor_refunds.processor_refund_id

),

erp_keys as (

    select
        erp_document_id,
        source_shape,
        source_file,
        source_row_number,
        posting_role,
        case when is_linked then 'processor' else 'erp' end as key_system,
        case when is_linked then processor_refund_id else erp_document_id end as refund_id
    from erp_postings

),

storefront_records as (

    select
        'storefront_refunds' as input_name,
        'storefront' as system_name,
        storefront_rows.source_shape,
        storefront_rows.source_file,
        storefront_rows.source_row_number,
        storefront_rows.record_id,
        storefront_rows.order_id,
        storefront_rows.is_accepted,
        storefront_rows.rejection_reason,
        case
            when not storefront_rows.is_accepted then 'rejected_row'
            when row_number() over (
                partition by storefront_rows.is_accepted, storefront_rows.record_id
                order by storefront_rows.recorded_at, storefront_rows.source_file, storefront_rows.source_row_number
            ) = 1 then 'storefront_refund_created'
            else 'storefront_status_recorded'
        end as record_event,
        storefront_rows.raw_status,
        {{ normalized('status_map.canonical_status') }} as canonical_status,
        storefront_rows.amount_minor,
        storefront_rows.currency,
        storefront_rows.minor_units,
        storefront_rows.recorded_at,
        coalesce(
            own_key.key_system,
            case when linked_key.processor_refund_id is not null then 'processor' end
        ) as key_system,
        coalesce(own_key.refund_id, linked_key.processor_refund_id) as refund_id
    from storefront_rows
    left join status_map
        on
            {{ normalized('status_map.source_system') }} = 'storefront'
            and {{ normalized('status_map.system_name') }} = storefront_rows.product_name
            and {{ normalized('status_map.raw_status') }} = {{ normalized('storefront_rows.raw_status') }}
    left join storefront_keys as own_key
        on storefront_rows.record_id = own_key.storefront_refund_id
    left join processor_refunds as linked_key
        on
            not storefront_rows.is_accepted
            and storefront_rows.processor_refund_id = linked_key.processor_refund_id

),

processor_records as (

    select
        'processor_refunds' as input_name,
        'processor' as system_name,
        processor_rows.source_shape,
        processor_rows.source_file,
        processor_rows.source_row_number,
        processor_rows.record_id,
        processor_rows.order_id,
        processor_rows.is_accepted,
        processor_rows.rejection_reason,
        case
            when not processor_rows.is_accepted then 'rejected_row'
            when row_number() over (
                partition by processor_rows.is_accepted, processor_rows.record_id
                order by processor_rows.recorded_at, processor_rows.source_file, processor_rows.source_row_number
            ) = 1 then 'processor_refund_created'
            else 'processor_status_reported'
        end as record_event,
        processor_rows.raw_status,
        {{ normalized('status_map.canonical_status') }} as canonical_status,
        processor_rows.amount_minor,
        processor_rows.currency,
        processor_rows.minor_units,
        processor_rows.recorded_at,
        case when processor_refunds.processor_refund_id is not null then 'processor' end as key_system,
        processor_refunds.processor_refund_id as refund_id
    from processor_rows
    left join status_map
        on
            {{ normalized('status_map.source_system') }} = 'processor'
            and {{ normalized('status_map.system_name') }} = processor_rows.product_name
            and {{ normalized('status_map.raw_status') }} = {{ normalized('processor_rows.raw_status') }}
    left join processor_refunds
        on processor_rows.record_id = processor_refunds.processor_refund_id

),

erp_records as (

    select
        'erp_refund_postings' as input_name,
        'erp' as system_name,
        erp_rows.source_shape,
        erp_rows.source_file,
        erp_rows.source_row_number,
        erp_rows.record_id,
        erp_rows.order_id,
        erp_rows.is_accepted,
        erp_rows.rejection_reason,
        case
            when not erp_rows.is_accepted then 'rejected_row'
            when current_version.erp_document_id is null then 'erp_superseded_version'
            when current_version.posting_role = 'primary' then 'erp_posting'
            else 'erp_' || current_version.posting_role || '_posting'
        end as record_event,
        erp_rows.raw_status,
        {{ normalized('gl_account_map.canonical_status') }} as canonical_status,
        erp_rows.amount_minor,
        erp_rows.currency,
        erp_rows.minor_units,
        erp_rows.recorded_at,
        coalesce(
            erp_documents.key_system,
            case when processor_refunds.processor_refund_id is not null then 'processor' end
        ) as key_system,
        coalesce(erp_documents.refund_id, processor_refunds.processor_refund_id) as refund_id
    from erp_rows
    left join gl_account_map
        on {{ normalized('gl_account_map.gl_account') }} = {{ normalized('erp_rows.raw_status') }}
    left join erp_keys as erp_documents
        on erp_rows.record_id = erp_documents.erp_document_id
    left join erp_keys as current_version
        on
            erp_rows.is_accepted
            and erp_rows.source_shape = current_version.source_shape
            and coalesce(erp_rows.source_file, '') = coalesce(current_version.source_file, '')
            and erp_rows.source_row_number = current_version.source_row_number
    left join processor_refunds
        on
            not erp_rows.is_accepted
            and erp_rows.processor_refund_id = processor_refunds.processor_refund_id

),

calendar_records as (

    -- Calendar rows listed in fct_rejected_rows: each a refund key of its own.
    select
        'erp_accounting_periods' as input_name,
        'erp' as system_name,
        source_shape,
        source_file,
        source_row_number,
        record_id,
        cast(null as {{ dbt.type_string() }}) as order_id,
        false as is_accepted,
        rejection_reason,
        'rejected_row' as record_event,
        cast(null as {{ dbt.type_string() }}) as raw_status,
        cast(null as {{ dbt.type_string() }}) as canonical_status,
        cast(null as {{ dbt.type_bigint() }}) as amount_minor,
        cast(null as {{ dbt.type_string() }}) as currency,
        cast(null as integer) as minor_units,
        recorded_at,
        cast(null as {{ dbt.type_string() }}) as key_system,
        cast(null as {{ dbt.type_string() }}) as refund_id
    from calendar_rows

),

records as (

    select * from storefront_records
    union all
    select * from processor_records
    union all
    select * from erp_records
    union all
    select * from calendar_records

),

ordered as (

    -- A refund's records in time order. The sort carries the records as
    -- they are: the ids below are built after it (BENCHMARKS.md, Memory).
    -- A record with no refund id is a refund of its own.
    select
        *,
        case
            when refund_id is null then 1
            else row_number() over (
                partition by key_system, refund_id
                order by
                    case when recorded_at is null then 1 else 0 end,
                    recorded_at,
                    case system_name when 'storefront' then 1 when 'processor' then 2 else 3 end,
                    source_file,
                    source_row_number
            )
        end as event_order
    from records

),

identified as (

    -- The record's id is fct_rejected_rows' rejected_row_id format.
    select
        *,
        {{ dbt.concat([
            'input_name', "':'", 'source_shape', "':'", "coalesce(source_file, '')", "':'",
            'cast(source_row_number as ' ~ dbt.type_string() ~ ')',
        ]) }} as audit_record_id
    from ordered

),

keyed as (

    select
        *,
        case
            when refund_id is not null then {{ dbt.concat(['key_system', "':'", 'refund_id']) }}
            else {{ dbt.concat(["'rejected:'", 'audit_record_id']) }}
        end as refund_key
    from identified

),

final as (

    select
        cast(audit_record_id as {{ dbt.type_string() }}) as audit_record_id,
        cast(refund_key as {{ dbt.type_string() }}) as refund_key,
        cast(coalesce(refund_id, record_id) as {{ dbt.type_string() }}) as refund_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        -- system and event are the contract's names (contracts.md)
        cast(system_name as {{ dbt.type_string() }}) as system,  -- noqa: RF04
        cast(record_id as {{ dbt.type_string() }}) as record_id,
        cast(record_event as {{ dbt.type_string() }}) as event,  -- noqa: RF04
        cast(raw_status as {{ dbt.type_string() }}) as raw_status,
        cast(canonical_status as {{ dbt.type_string() }}) as canonical_status,
        {{ minor_to_major('amount_minor', 'minor_units') }} as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(minor_units as integer) as minor_units,
        recorded_at,
        cast(event_order as integer) as event_order,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(source_row_number as {{ dbt.type_bigint() }}) as source_row,
        not is_accepted as is_rejected,
        cast(rejection_reason as {{ dbt.type_string() }}) as rejection_reason,
        {{ as_of_literal() }} as as_of,
        {{ checkpoint_id_constant() }} as checkpoint_id
    from keyed

)

select * from final
