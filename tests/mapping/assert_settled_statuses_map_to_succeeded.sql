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

documented_settled as (

    {% for source_system, system_name, raw_status in documented_settled_statuses() %}
    select
        '{{ source_system }}' as source_system_key,
        '{{ system_name }}' as system_name_key,
        '{{ raw_status }}' as raw_status_key
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}

),

settled as (

    select
        status_map.*,
        case
            when documented_settled.raw_status_key is not null then 'documented by its vendor as settled'
            when status_map.raw_status_key in (
                {%- for word in settled_status_words() %}
                '{{ word }}'{{ ',' if not loop.last }}
                {%- endfor %}
            ) then 'a settled word'
        end as settled_because
    from status_map
    left join documented_settled
        on
            status_map.source_system_key = documented_settled.source_system_key
            and status_map.system_name_key = documented_settled.system_name_key
            and status_map.raw_status_key = documented_settled.raw_status_key

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
