{#- Suggested matches: for a record that links to no processor refund (an
    orphan ERP posting, a storefront refund unknown to the processor) and a
    processor refund that lacks that system's record (missing_in_erp,
    missing_in_storefront), the candidate counterparts, scored from the
    evidence a person can check: the order id, the amount, the time, and the
    reference text the record carries against the processor refund id. A
    hint, never applied: both variances stay open (docs/marts.md).

    Cheap by construction: it reads only the variance rows of those four
    types and the attributes of exactly those records; candidates come from
    equi-joins (same currency and order id, same currency and amount, same
    currency within a day), never a cross join of all records. -#}

{%- set min_score = suggested_match_min_score() -%}

with

variances as (

    select
        variance_id,
        variance_type,
        refund_id
    from {{ ref('fct_refund_variances') }}
    where variance_type in ('orphan_erp_posting', 'missing_in_erp', 'missing_at_processor', 'missing_in_storefront')

),

erp_postings as (

    select * from {{ ref('int_erp_postings_deduplicated') }}
    where posting_role = 'orphan'

),

storefront_refunds as (

    select * from {{ ref('int_storefront_refunds_deduplicated') }}

),

processor_refunds as (

    select * from {{ ref('int_processor_refunds_collapsed') }}

),

digits as (

    {%- for digit in range(8) %}
    select {{ digit }} as digit{{ ' union all' if not loop.last }}
    {%- endfor %}

),

positions as (

    -- Character positions 1 to 64: ids up to 64 characters are compared
    -- position by position (plain SQL on every engine).
    select eights.digit * 8 + ones.digit + 1 as character_position
    from digits as eights
    cross join digits as ones

),

unlinked_records as (

    -- The records the processor does not know, with the reference text
    -- they carry where it should have been the processor refund id.
    select
        variances.variance_id,
        'erp' as counterpart_side,
        'erp' as record_system,
        erp_postings.erp_document_id as record_id,
        erp_postings.processor_refund_id as reference_text,
        erp_postings.order_id,
        erp_postings.currency,
        erp_postings.minor_units,
        erp_postings.amount_minor,
        erp_postings.posted_at as event_at
    from variances
    inner join erp_postings
        on variances.refund_id = erp_postings.erp_document_id
    where variances.variance_type = 'orphan_erp_posting'
    union all
    select
        variances.variance_id,
        'storefront' as counterpart_side,
        'storefront' as record_system,
        storefront_refunds.storefront_refund_id as record_id,
        storefront_refunds.processor_refund_id as reference_text,
        storefront_refunds.order_id,
        storefront_refunds.currency,
        storefront_refunds.minor_units,
        storefront_refunds.amount_minor,
        storefront_refunds.created_at as event_at
    from variances
    inner join storefront_refunds
        on variances.refund_id = storefront_refunds.storefront_refund_id
    where variances.variance_type = 'missing_at_processor'

),

lacking_refunds as (

    -- The processor refunds that lack that system's record; their time is
    -- the one the other system's record follows: the confirmation for the
    -- ERP, the creation for the storefront.
    select
        variances.variance_id,
        case variances.variance_type when 'missing_in_erp' then 'erp' else 'storefront' end as counterpart_side,
        processor_refunds.processor_refund_id,
        processor_refunds.order_id,
        processor_refunds.currency,
        processor_refunds.amount_minor,
        case variances.variance_type
            when 'missing_in_erp' then coalesce(processor_refunds.confirmed_at, processor_refunds.created_at)
            else processor_refunds.created_at
        end as event_at
    from variances
    inner join processor_refunds
        on variances.refund_id = processor_refunds.processor_refund_id
    where variances.variance_type in ('missing_in_erp', 'missing_in_storefront')

),

unlinked_keyed as (

    select
        *,
        {{ dbt.datediff("cast('2000-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")", 'event_at', 'day') }}
            as event_day,
        upper(trim(reference_text)) as reference_key
    from unlinked_records
    where currency is not null

),

lacking_keyed as (

    select
        *,
        {{ dbt.datediff("cast('2000-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")", 'event_at', 'day') }}
            as event_day,
        upper(trim(processor_refund_id)) as id_key
    from lacking_refunds
    where currency is not null

),

blocks as (

    -- The blocking keys: the order id, the amount, the day; an unlinked
    -- record's day also matches the day before and after.
    select
        'order' as block_kind,
        0 as day_offset
    union all
    select
        'amount' as block_kind,
        0 as day_offset
    union all
    select
        'day' as block_kind,
        -1 as day_offset
    union all
    select
        'day' as block_kind,
        0 as day_offset
    union all
    select
        'day' as block_kind,
        1 as day_offset

),

unlinked_blocked as (

    select
        unlinked_keyed.*,
        blocks.block_kind,
        case blocks.block_kind
            when 'order' then unlinked_keyed.order_id
            when 'amount' then cast(unlinked_keyed.amount_minor as {{ dbt.type_string() }})
            else cast(unlinked_keyed.event_day + blocks.day_offset as {{ dbt.type_string() }})
        end as block_key
    from unlinked_keyed
    cross join blocks

),

lacking_blocked as (

    select
        lacking_keyed.*,
        blocks.block_kind,
        case blocks.block_kind
            when 'order' then lacking_keyed.order_id
            when 'amount' then cast(lacking_keyed.amount_minor as {{ dbt.type_string() }})
            else cast(lacking_keyed.event_day as {{ dbt.type_string() }})
        end as block_key
    from lacking_keyed
    cross join blocks
    where blocks.day_offset = 0

),

pairs as (

    -- Blocking: a pair is considered when the records share the currency
    -- and the order id, or the amount, or a day (within one); a pair that
    -- shares several is one pair. One equi-join, never a cross join of all
    -- records.
    select distinct
        unlinked_blocked.variance_id as unlinked_variance_id,
        lacking_blocked.variance_id as lacking_variance_id,
        unlinked_blocked.record_system,
        unlinked_blocked.record_id,
        unlinked_blocked.reference_text,
        unlinked_blocked.reference_key,
        lacking_blocked.processor_refund_id,
        lacking_blocked.id_key,
        unlinked_blocked.currency,
        unlinked_blocked.minor_units,
        coalesce(unlinked_blocked.order_id = lacking_blocked.order_id, false) as is_same_order,
        unlinked_blocked.order_id,
        unlinked_blocked.amount_minor - lacking_blocked.amount_minor as amount_delta_minor,
        unlinked_blocked.event_at as record_at,
        lacking_blocked.event_at as processor_at,
        length(unlinked_blocked.reference_key) as reference_length,
        length(lacking_blocked.id_key) as id_length
    from unlinked_blocked
    inner join lacking_blocked
        on
            unlinked_blocked.counterpart_side = lacking_blocked.counterpart_side
            and unlinked_blocked.currency = lacking_blocked.currency
            and unlinked_blocked.block_kind = lacking_blocked.block_kind
            and unlinked_blocked.block_key = lacking_blocked.block_key

),

timed_seconds as (

    select
        *,
        {{ dbt.datediff('processor_at', 'record_at', 'second') }} as time_delta_seconds
    from pairs

),

timed as (

    -- Whole minutes elapsed, towards zero (engines count datediff's minute
    -- boundaries differently; seconds they agree on).
    select
        *,
        cast(
            case when time_delta_seconds < 0 then -1 else 1 end * floor(abs(time_delta_seconds) / 60) as integer
        ) as time_delta_minutes
    from timed_seconds

),

{%- set pair_columns = [
    'unlinked_variance_id', 'lacking_variance_id', 'record_system', 'record_id', 'reference_text', 'reference_key',
    'processor_refund_id', 'id_key', 'currency', 'minor_units', 'is_same_order', 'order_id', 'amount_delta_minor',
    'time_delta_minutes', 'time_delta_seconds', 'reference_length', 'id_length',
] %}

differing_positions as (

    -- Where a reference of the id's length differs from it, position by
    -- position (a changed character, two swapped ones); every pair is kept.
    select
        {%- for column in pair_columns %}
        timed.{{ column }},
        {%- endfor %}
        count(positions.character_position) as differing_count,
        min(positions.character_position) as first_difference,
        max(positions.character_position) as last_difference
    from timed
    left join positions
        on
            timed.reference_length >= positions.character_position
            and timed.reference_length = timed.id_length
            and timed.reference_length <= 64
            and substr(timed.reference_key, positions.character_position, 1)
            <> substr(timed.id_key, positions.character_position, 1)
    group by
        timed.unlinked_variance_id,
        timed.lacking_variance_id,
        timed.record_system,
        timed.record_id,
        timed.reference_text,
        timed.reference_key,
        timed.processor_refund_id,
        timed.id_key,
        timed.currency,
        timed.minor_units,
        timed.is_same_order,
        timed.order_id,
        timed.amount_delta_minor,
        timed.time_delta_minutes,
        timed.time_delta_seconds,
        timed.reference_length,
        timed.id_length

),

compared as (

    select
        *,
        case
            when reference_key is null or reference_key = '' then 'none'
            when reference_key = id_key then 'same_text'
            when differing_count = 1 then 'one_changed'
            when
                differing_count = 2
                and last_difference = first_difference + 1
                and substr(reference_key, first_difference, 1) = substr(id_key, last_difference, 1)
                and substr(reference_key, last_difference, 1) = substr(id_key, first_difference, 1)
                then 'swapped'
            when
                reference_length >= 8
                and reference_length < id_length
                and substr(id_key, 1, reference_length) = reference_key
                then 'truncated'
            else 'unlike'
        end as reference_match
    from differing_positions

),

resemblance_counted as (

    -- A reference that resembles several processor refunds singles none out.
    select
        *,
        sum(
            case when reference_match in ('same_text', 'one_changed', 'swapped', 'truncated') then 1 else 0 end
        ) over (partition by unlinked_variance_id) as resembled_count
    from compared

),

weighed as (

    -- Each piece of evidence as the chance it alone makes the pair one refund.
    select
        *,
        cast(
            case
                when reference_match not in ('same_text', 'one_changed', 'swapped', 'truncated') then 0
                when resembled_count > 1 then 0.50
                when reference_match = 'same_text' then 0.95
                when reference_match = 'truncated' then 0.85
                else 0.90
            end as decimal(5, 4)
        ) as reference_weight,
        cast(case when is_same_order then 0.60 else 0 end as decimal(5, 4)) as order_weight,
        cast(
            case
                when
                    abs({{ minor_to_major('amount_delta_minor', 'minor_units') }})
                    <= {{ amount_tolerance() }}
                    then 0.50
                else 0
            end as decimal(5, 4)
        ) as amount_weight,
        cast(
            case
                when abs(time_delta_seconds) <= 3600 then 0.30
                when abs(time_delta_seconds) <= 86400 then 0.10
                else 0
            end as decimal(5, 4)
        ) as time_weight
    from resemblance_counted

),

scored as (

    -- The pieces combined as independent chances (1 minus the chance that
    -- every one of them is a coincidence).
    select
        *,
        cast(
            round(
                1 - (1 - reference_weight) * (1 - order_weight) * (1 - amount_weight) * (1 - time_weight),
                4
            ) as decimal(5, 4)
        ) as score
    from weighed

),

explained as (

    select
        *,
        case record_system when 'erp' then 'ERP posting' else 'storefront refund' end as record_label,
        case record_system when 'erp' then 'ERP posting''s' else 'storefront refund''s' end as record_possessive,
        {{ dbt.concat([
            "'; '",
            "case abs(time_delta_minutes) when 0 then 'under a minute' when 1 then '1 minute' else "
                ~ "cast(abs(time_delta_minutes) as " ~ dbt.type_string() ~ ") || ' minutes' end",
            "' apart'",
        ]) }} as time_phrase
    from scored
    where score >= {{ min_score }}

),

described as (

    select
        *,
        {{ sentence([
            "'; '",
            'case when is_same_order then ' ~ dbt.concat(["'same order '", 'order_id']) ~ " else 'another order' end",
            "'; '",
            "case when amount_weight > 0 then 'same amount' else "
                ~ dbt.concat(["'amounts differ by '", format_money('abs(amount_delta_minor)', 'minor_units', 'currency')])
                ~ ' end',
            'time_phrase',
            "'; '",
            'case reference_match'
                ~ " when 'none' then 'the ' || record_label || ' carries no processor refund id'"
                ~ " when 'same_text' then 'the ' || record_possessive || ' reference ''' || reference_text || ''' is the id in another case or spacing'"
                ~ " when 'one_changed' then 'the ' || record_possessive || ' reference ''' || reference_text || ''' differs from the id in one character'"
                ~ " when 'swapped' then 'the ' || record_possessive || ' reference ''' || reference_text || ''' is the id with two adjacent characters swapped'"
                ~ " when 'truncated' then 'the ' || record_possessive || ' reference ''' || reference_text || ''' is the id cut short'"
                ~ " else 'the ' || record_possessive || ' reference ''' || reference_text || ''' does not resemble the id' end",
            "case when resembled_count > 1 then ' (it resembles ' || cast(resembled_count as "
                ~ dbt.type_string() ~ ") || ' processor refunds)' else '' end",
            "'.'",
        ]) }} as evidence_text
    from explained

),

sides as (

    select 'unlinked' as listed_under
    union all
    select 'processor' as listed_under

),

both_sides as (

    -- Each pair from both sides: under the unlinked record's variance and
    -- under the processor refund's.
    select
        described.currency,
        described.minor_units,
        described.is_same_order,
        described.amount_delta_minor,
        described.time_delta_minutes,
        described.time_delta_seconds,
        described.score,
        case sides.listed_under
            when 'unlinked' then described.unlinked_variance_id else described.lacking_variance_id
        end as variance_id,
        case sides.listed_under
            when 'unlinked' then described.lacking_variance_id else described.unlinked_variance_id
        end as candidate_variance_id,
        case sides.listed_under when 'unlinked' then described.record_system else 'processor' end as system,  -- noqa: RF04
        case sides.listed_under when 'unlinked' then described.record_id else described.processor_refund_id end
            as record_id,
        case sides.listed_under when 'unlinked' then 'processor' else described.record_system end
            as candidate_system,
        case sides.listed_under when 'unlinked' then described.processor_refund_id else described.record_id end
            as candidate_record_id,
        case sides.listed_under
            when 'unlinked' then {{ dbt.concat(["'The '", 'described.record_label', "' '", 'described.record_id',
                "' may be processor refund '", 'described.processor_refund_id', 'described.evidence_text']) }}
            else {{ dbt.concat(["'Processor refund '", 'described.processor_refund_id', "' may be the '",
                'described.record_label', "' '", 'described.record_id', 'described.evidence_text']) }}
        end as reason
    from described
    cross join sides

),

ranked as (

    select
        *,
        row_number() over (
            partition by variance_id
            order by score desc, abs(time_delta_seconds) asc, abs(amount_delta_minor) asc, candidate_variance_id asc
        ) as suggestion_rank
    from both_sides

),

final as (

    select
        cast({{ dbt.hash(dbt.concat(['variance_id', "'|'", 'candidate_variance_id'])) }} as {{ dbt.type_string() }})
            as suggestion_id,
        cast(variance_id as {{ dbt.type_string() }}) as variance_id,
        cast(candidate_variance_id as {{ dbt.type_string() }}) as candidate_variance_id,
        cast(system as {{ dbt.type_string() }}) as system,  -- noqa: RF04
        cast(record_id as {{ dbt.type_string() }}) as record_id,
        cast(candidate_system as {{ dbt.type_string() }}) as candidate_system,
        cast(candidate_record_id as {{ dbt.type_string() }}) as candidate_record_id,
        is_same_order as order_id_matches,
        {{ minor_to_major('amount_delta_minor', 'minor_units') }} as amount_delta,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(time_delta_minutes as integer) as time_delta_minutes,
        score,
        cast(suggestion_rank as integer) as rank,  -- noqa: RF04
        cast(reason as {{ dbt.type_string() }}) as reason,
        {{ checkpoint_id_constant() }} as checkpoint_id
    from ranked

)

select * from final
