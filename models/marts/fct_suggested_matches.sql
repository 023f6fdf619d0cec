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

positions as (

    {{ suggestion_positions() }}

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

day_offsets as (

    select -1 as day_offset
    union all
    select 0 as day_offset
    union all
    select 1 as day_offset

),

candidate_pairs as (

    -- Blocking: a pair is considered when the records share the currency
    -- and the order id, or the amount, or a day (within one).
    select
        unlinked_keyed.variance_id as unlinked_variance_id,
        lacking_keyed.variance_id as lacking_variance_id
    from unlinked_keyed
    inner join lacking_keyed
        on
            unlinked_keyed.counterpart_side = lacking_keyed.counterpart_side
            and unlinked_keyed.currency = lacking_keyed.currency
            and unlinked_keyed.order_id = lacking_keyed.order_id
    union
    select
        unlinked_keyed.variance_id as unlinked_variance_id,
        lacking_keyed.variance_id as lacking_variance_id
    from unlinked_keyed
    inner join lacking_keyed
        on
            unlinked_keyed.counterpart_side = lacking_keyed.counterpart_side
            and unlinked_keyed.currency = lacking_keyed.currency
            and unlinked_keyed.amount_minor = lacking_keyed.amount_minor
    union
    select
        unlinked_keyed.variance_id as unlinked_variance_id,
        lacking_keyed.variance_id as lacking_variance_id
    from unlinked_keyed
    cross join day_offsets
    inner join lacking_keyed
        on
            unlinked_keyed.counterpart_side = lacking_keyed.counterpart_side
            and unlinked_keyed.currency = lacking_keyed.currency
            and unlinked_keyed.event_day = lacking_keyed.event_day + day_offsets.day_offset

),

pairs as (

    select
        candidate_pairs.unlinked_variance_id,
        candidate_pairs.lacking_variance_id,
        unlinked_keyed.record_system,
        unlinked_keyed.record_id,
        unlinked_keyed.reference_text,
        unlinked_keyed.reference_key,
        lacking_keyed.processor_refund_id,
        lacking_keyed.id_key,
        unlinked_keyed.currency,
        unlinked_keyed.minor_units,
        coalesce(unlinked_keyed.order_id = lacking_keyed.order_id, false) as is_same_order,
        unlinked_keyed.order_id,
        unlinked_keyed.amount_minor - lacking_keyed.amount_minor as amount_delta_minor,
        unlinked_keyed.event_at as record_at,
        lacking_keyed.event_at as processor_at,
        length(unlinked_keyed.reference_key) as reference_length,
        length(lacking_keyed.id_key) as id_length
    from candidate_pairs
    inner join unlinked_keyed
        on candidate_pairs.unlinked_variance_id = unlinked_keyed.variance_id
    inner join lacking_keyed
        on candidate_pairs.lacking_variance_id = lacking_keyed.variance_id

),

timed as (

    select
        *,
        {{ dbt.datediff('processor_at', 'record_at', 'minute') }} as time_delta_minutes,
        {{ dbt.datediff('processor_at', 'record_at', 'second') }} as time_delta_seconds
    from pairs

),

differing_positions as (

    -- Where a reference of the id's length differs from it, position by
    -- position (a changed character, two swapped ones).
    select
        pairs.unlinked_variance_id,
        pairs.lacking_variance_id,
        count(*) as differing_count,
        min(positions.character_position) as first_difference,
        max(positions.character_position) as last_difference
    from timed as pairs
    inner join positions
        on pairs.reference_length >= positions.character_position
    where
        pairs.reference_length = pairs.id_length
        and pairs.reference_length <= 64
        and pairs.reference_key <> pairs.id_key
        and substr(pairs.reference_key, positions.character_position, 1)
        <> substr(pairs.id_key, positions.character_position, 1)
    group by pairs.unlinked_variance_id, pairs.lacking_variance_id

),

compared as (

    select
        pairs.*,
        case
            when pairs.reference_key is null or pairs.reference_key = '' then 'none'
            when pairs.reference_key = pairs.id_key then 'same_text'
            when differing_positions.differing_count = 1 then 'one_changed'
            when
                differing_positions.differing_count = 2
                and differing_positions.last_difference = differing_positions.first_difference + 1
                and substr(pairs.reference_key, differing_positions.first_difference, 1)
                = substr(pairs.id_key, differing_positions.last_difference, 1)
                and substr(pairs.reference_key, differing_positions.last_difference, 1)
                = substr(pairs.id_key, differing_positions.first_difference, 1)
                then 'swapped'
            when
                pairs.reference_length >= 8
                and pairs.reference_length < pairs.id_length
                and substr(pairs.id_key, 1, pairs.reference_length) = pairs.reference_key
                then 'truncated'
            else 'unlike'
        end as reference_match
    from timed as pairs
    left join differing_positions
        on
            pairs.unlinked_variance_id = differing_positions.unlinked_variance_id
            and pairs.lacking_variance_id = differing_positions.lacking_variance_id

),

resemblance_counts as (

    -- A reference that resembles several processor refunds singles none out.
    select
        unlinked_variance_id,
        count(*) as resembled_count
    from compared
    where reference_match in ('same_text', 'one_changed', 'swapped', 'truncated')
    group by unlinked_variance_id

),

weighed as (

    -- Each piece of evidence as the chance it alone makes the pair one refund.
    select
        compared.*,
        coalesce(resemblance_counts.resembled_count, 0) as resembled_count,
        cast(
            case
                when compared.reference_match not in ('same_text', 'one_changed', 'swapped', 'truncated') then 0
                when resemblance_counts.resembled_count > 1 then 0.50
                when compared.reference_match = 'same_text' then 0.95
                when compared.reference_match = 'truncated' then 0.85
                else 0.90
            end as decimal(5, 4)
        ) as reference_weight,
        cast(case when compared.is_same_order then 0.60 else 0 end as decimal(5, 4)) as order_weight,
        cast(
            case
                when
                    abs({{ minor_to_major('compared.amount_delta_minor', 'compared.minor_units') }})
                    <= {{ amount_tolerance() }}
                    then 0.50
                else 0
            end as decimal(5, 4)
        ) as amount_weight,
        cast(
            case
                when abs(compared.time_delta_seconds) <= 3600 then 0.30
                when abs(compared.time_delta_seconds) <= 86400 then 0.10
                else 0
            end as decimal(5, 4)
        ) as time_weight
    from compared
    left join resemblance_counts
        on compared.unlinked_variance_id = resemblance_counts.unlinked_variance_id

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
            "case when abs(time_delta_minutes) = 1 then '1 minute' else "
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

both_sides as (

    -- Each pair from both sides: under the unlinked record's variance and
    -- under the processor refund's.
    select
        unlinked_variance_id as variance_id,
        lacking_variance_id as candidate_variance_id,
        record_system as system,  -- noqa: RF04
        record_id,
        'processor' as candidate_system,
        processor_refund_id as candidate_record_id,
        {{ dbt.concat(["'The '", 'record_label', "' '", 'record_id', "' may be processor refund '",
                       'processor_refund_id', 'evidence_text']) }} as reason,
        currency,
        minor_units,
        is_same_order,
        amount_delta_minor,
        time_delta_minutes,
        time_delta_seconds,
        score
    from described
    union all
    select
        lacking_variance_id as variance_id,
        unlinked_variance_id as candidate_variance_id,
        'processor' as system,  -- noqa: RF04
        processor_refund_id as record_id,
        record_system as candidate_system,
        record_id as candidate_record_id,
        {{ dbt.concat(["'Processor refund '", 'processor_refund_id', "' may be the '", 'record_label', "' '",
                       'record_id', 'evidence_text']) }} as reason,
        currency,
        minor_units,
        is_same_order,
        amount_delta_minor,
        time_delta_minutes,
        time_delta_seconds,
        score
    from described

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
        cast(reason as {{ dbt.type_string() }}) as reason
    from ranked

)

select * from final
