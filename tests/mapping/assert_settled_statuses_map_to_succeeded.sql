{#- Mapping contract (an error: the build fails): a status that says the
    refund settled maps to succeeded and final. Remapping one (to pending,
    to failed, or succeeded but not final) would take every refund in that
    status out of the confirmation check, so a refund the ERP never booked
    would pass as clean. Settled means: documented as such by the vendor
    (macros/rules/mapping_contracts.sql, from the documented codes in
    tests/fixtures/connectors/documented_codes/), or spelled as a settled
    word in any system (succeeded, completed, refunded, ...). Each row
    returned is a seed row to correct. -#}

with

status_map as (

    select
        source_system,
        system_name,
        raw_status,
        canonical_status,
        is_final,
        {{ normalized('source_system') }} as source_system_key,
        {{ normalized('system_name') }} as system_name_key,
        {{ normalized('raw_status') }} as raw_status_key
    from {{ ref('refund_status_map') }}

),

settled as (

    select
        *,
        case
            {%- for source_system, system_name, raw_status in documented_settled_statuses() %}
            when source_system_key = '{{ source_system }}' and system_name_key = '{{ system_name }}'
                and raw_status_key = '{{ raw_status }}' then 'documented by {{ system_name }} as settled'
            {%- endfor %}
            when raw_status_key in ('{{ settled_status_words() | join("', '") }}')
                then 'a settled word'
        end as settled_because
    from status_map

),

final as (

    select
        source_system,
        system_name,
        raw_status,
        canonical_status,
        is_final,
        settled_because
    from settled
    where
        settled_because is not null
        and not (coalesce(canonical_status = 'succeeded', false) and coalesce(is_final, false))

)

select * from final
