{#- Nothing is lost: per input (all its enabled shapes), every row is staged
    once (int_input_rows, which the marts read), every row is either folded
    into a reconciled record or listed in fct_rejected_rows, and every
    reconciled record reaches the three-way match. Returns one row per input
    that breaks any of them. -#}

with

input_rows as (

    -- The rows each enabled shape delivered (var <role>_shapes).
    {% for role, input_name in [
        ('storefront', 'storefront_refunds'),
        ('processor', 'processor_refunds'),
        ('erp', 'erp_refund_postings'),
    ] %}
    select
        '{{ input_name }}' as input_name,
        count(*) as row_count
    from ({{ union_refund_shapes(role, input_name) }}) as shape_rows
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

staged_rows as (

    select
        input_name,
        count(*) as row_count
    from {{ ref('int_input_rows') }}
    group by input_name

),

reconciled_rows as (

    select
        'storefront_refunds' as input_name,
        sum(source_row_count) as row_count,
        count(*) as record_count
    from {{ ref('int_storefront_refunds_deduplicated') }}
    union all
    select
        'processor_refunds' as input_name,
        sum(source_row_count) as row_count,
        count(*) as record_count
    from {{ ref('int_processor_refunds_collapsed') }}
    union all
    select
        'erp_refund_postings' as input_name,
        sum(source_row_count) as row_count,
        -- A document and the posting that reverses it net out before the match.
        sum(case when posting_role in ('reversing', 'reversed') then 0 else 1 end) as record_count
    from {{ ref('int_erp_postings_deduplicated') }}

),

rejected_rows as (

    select
        input_name,
        count(*) as row_count
    from {{ ref('fct_rejected_rows') }}
    group by input_name

),

matched_records as (

    select
        'storefront_refunds' as input_name,
        sum(storefront_record_count) as record_count
    from {{ ref('int_refunds_matched') }}
    union all
    select
        'processor_refunds' as input_name,
        sum(case when has_processor_record then 1 else 0 end) as record_count
    from {{ ref('int_refunds_matched') }}
    union all
    select
        'erp_refund_postings' as input_name,
        sum(erp_posting_count) as record_count
    from {{ ref('int_refunds_matched') }}

),

compared as (

    select
        input_rows.input_name,
        input_rows.row_count as input_row_count,
        coalesce(staged_rows.row_count, 0) as staged_row_count,
        coalesce(reconciled_rows.row_count, 0) as reconciled_row_count,
        coalesce(rejected_rows.row_count, 0) as rejected_row_count,
        coalesce(reconciled_rows.record_count, 0) as reconciled_record_count,
        coalesce(matched_records.record_count, 0) as matched_record_count
    from input_rows
    left join staged_rows on input_rows.input_name = staged_rows.input_name
    left join reconciled_rows on input_rows.input_name = reconciled_rows.input_name
    left join rejected_rows on input_rows.input_name = rejected_rows.input_name
    left join matched_records on input_rows.input_name = matched_records.input_name

)

select * from compared
where
    input_row_count <> staged_row_count
    or input_row_count <> reconciled_row_count + rejected_row_count
    or reconciled_record_count <> matched_record_count
