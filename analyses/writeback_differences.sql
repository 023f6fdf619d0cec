-- The writeback dry run (refund-recon validate-writeback): field by field,
-- where a changed integration's ERP records (read as the erp_refund_postings
-- input of a throw-away build) differ from the expected postings. One row per
-- difference: processor_refund_id, erp_document_id, problem, field, expected,
-- candidate. Compiled and run by recon_runner.change_checks; no rows is a match.

with

expected as (
    select * from {{ ref('fct_expected_erp_postings') }}
),

candidate as (
    select
        *,
        {{ minor_to_major('amount_minor', 'minor_units') }} as amount
    from {{ ref('int_erp_postings_deduplicated') }}
),

primaries as (
    select
        candidate.*,
        expected.expected_gl_account,
        expected.amount as expected_amount,
        expected.currency as expected_currency,
        expected.expected_reason_code,
        expected.expected_posting_period,
        expected.posting_requirement
    from candidate
    inner join expected on candidate.processor_refund_id = expected.processor_refund_id
    where candidate.posting_role = 'primary'
),

candidate_with_requirement as (
    select
        candidate.*,
        expected.posting_requirement
    from candidate
    left join expected on candidate.processor_refund_id = expected.processor_refund_id
),

booked as (
    select processor_refund_id from candidate
    where posting_role in ('primary', 'reversal') and processor_refund_id is not null
)

select
    processor_refund_id,
    null as erp_document_id,
    'missing' as problem,
    'posting' as field,
    expected_gl_account || ' ' || cast(amount as {{ dbt.type_string() }}) || ' ' || currency as expected,
    null as candidate
from expected
where
    posting_requirement = 'required'
    and processor_refund_id not in (select booked.processor_refund_id from booked)

union all

select
    processor_refund_id,
    erp_document_id,
    'extra' as problem,
    'posting' as field,
    'no posting: ' || case
        when posting_role = 'orphan' then 'the batch has no such refund'
        when posting_requirement = 'none' then 'the refund failed or was canceled'
        else 'the refund status is unmapped'
    end as expected,
    gl_account || ' ' || cast(amount as {{ dbt.type_string() }}) || ' ' || currency as candidate
from candidate_with_requirement
where posting_role = 'orphan' or (posting_role = 'primary' and posting_requirement = 'none')

union all

select
    processor_refund_id,
    erp_document_id,
    'duplicate key' as problem,
    'processor_refund_id' as field,
    'one posting per processor refund id' as expected,
    processor_refund_id as candidate
from candidate
where posting_role = 'duplicate'

union all

select
    processor_refund_id,
    erp_document_id,
    'wrong GL account' as problem,
    'gl_account' as field,
    expected_gl_account as expected,
    gl_account as candidate
from primaries
where
    posting_requirement in ('required', 'optional')
    and coalesce(gl_account, '') <> coalesce(expected_gl_account, '')

union all

select
    processor_refund_id,
    erp_document_id,
    'amount' as problem,
    'amount' as field,
    cast(expected_amount as {{ dbt.type_string() }}) as expected,
    cast(amount as {{ dbt.type_string() }}) as candidate
from primaries
where currency = expected_currency and amount <> expected_amount

union all

select
    processor_refund_id,
    erp_document_id,
    'currency' as problem,
    'currency' as field,
    expected_currency as expected,
    currency as candidate
from primaries
where currency <> expected_currency

union all

select
    processor_refund_id,
    erp_document_id,
    'reason code' as problem,
    'reason_code' as field,
    expected_reason_code as expected,
    reason_code as candidate
from primaries
where expected_reason_code is not null and upper(coalesce(reason_code, '')) <> upper(expected_reason_code)

union all

select
    processor_refund_id,
    erp_document_id,
    'period' as problem,
    'posting_period' as field,
    expected_posting_period as expected,
    posting_period as candidate
from primaries
where posting_period <> expected_posting_period

union all

select
    processor_refund_id,
    record_id as erp_document_id,
    'unreadable row' as problem,
    rejected_column as field,
    'a readable value' as expected,
    rejection_reason || ' (row ' || cast(source_row_number as {{ dbt.type_string() }}) || ')' as candidate
from {{ ref('fct_rejected_rows') }}
where input_name = 'erp_refund_postings'
