{{ config(severity='warn') }}

{#- Mapping coverage: every raw status (and ERP GL account) in the inputs
    that has no mapping row. A warning, so the run goes on and the variance
    report shows each refund as unmapped_status; add the rows listed here to
    refund_status_map / gl_account_map. -#}

with

storefront_statuses as (

    select
        'storefront' as source_system,
        system_name,
        raw_status,
        count(*) as refund_count
    from {{ ref('int_storefront_refunds_deduplicated') }}
    where not is_status_mapped
    group by system_name, raw_status

),

processor_statuses as (

    select
        'processor' as source_system,
        processor as system_name,
        raw_status,
        count(*) as refund_count
    from {{ ref('int_processor_refunds_collapsed') }}
    where not is_status_mapped
    group by processor, raw_status

),

gl_accounts as (

    select
        'erp' as source_system,
        'gl_account_map' as system_name,
        gl_account as raw_status,
        count(*) as refund_count
    from {{ ref('int_erp_postings_deduplicated') }}
    where not is_gl_account_mapped
    group by gl_account

)

select * from storefront_statuses
union all
select * from processor_statuses
union all
select * from gl_accounts
