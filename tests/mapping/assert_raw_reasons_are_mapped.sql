{{ config(severity='warn') }}

{#- Mapping coverage: every raw reason in the inputs with no row in
    refund_reason_map. A warning: the variance report shows each refund as
    unmapped_reason until the row is added. -#}

with

storefront_reasons as (

    select
        'storefront' as source_system,
        system_name,
        raw_reason,
        count(*) as refund_count
    from {{ ref('int_storefront_refunds_deduplicated') }}
    where not is_reason_mapped
    group by system_name, raw_reason

),

processor_reasons as (

    select
        'processor' as source_system,
        processor as system_name,
        raw_reason,
        count(*) as refund_count
    from {{ ref('int_processor_refunds_collapsed') }}
    where not is_reason_mapped
    group by processor, raw_reason

)

select * from storefront_reasons
union all
select * from processor_reasons
