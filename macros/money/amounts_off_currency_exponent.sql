{#- The rows of `checks` whose money column is not an exact amount at its
    currency's exponent (JPY whole, EUR cents, KWD fils: scaled to minor
    units, a whole number), or whose exponent is unknown while it has an
    amount. `checks`: (model, row id column, money column, minor units
    column: a column of the model, else `currencies.minor_units` from seed
    currencies by the model's currency). Used by the singular tests in
    tests/money/, one per checkpoint phase. -#}

{% macro amounts_off_currency_exponent(checks) %}

with

currencies as (

    select * from {{ ref('currencies') }}

),

amounts as (
    {% for model, row_id, amount, minor_units in checks %}
    select
        '{{ model }}.{{ amount }}' as money_column,
        cast(marts.{{ row_id }} as {{ dbt.type_string() }}) as row_id,
        marts.{{ amount }} as money_amount,
        {{ minor_units if '.' in minor_units else 'coalesce(marts.' ~ minor_units ~ ', currencies.minor_units)' }}
            as currency_minor_units
    from {{ ref(model) }} as marts
    left join currencies
        on marts.currency = currencies.currency
    where marts.{{ amount }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

scaled as (

    select
        *,
        money_amount * case currency_minor_units
            {%- for exponent in range(5) %}
            when {{ exponent }} then {{ 10 ** exponent }}
            {%- endfor %}
        end as amount_in_minor_units
    from amounts

)

select * from scaled
where amount_in_minor_units is null or amount_in_minor_units <> floor(amount_in_minor_units)

{% endmacro %}
