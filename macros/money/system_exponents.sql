{#-
    Each system's own currency exponents (seed currency_exponents, ISO 4217
    from seed currencies where the system documents no exception). A base
    model that reads minor units converts them with its system's exponent
    into decimal text in major units (amount_unit 'major'); staging then
    holds the amount at ISO's exponent, so Adyen's ISK 12300 (2 decimals at
    Adyen) is 123 ISK, and ISK 12345 (123.45) is rejected by staging's
    amount checks instead of being rounded.
-#}

{#- The body of an import CTE: currency, minor_units at `system_name`'s exponent. -#}
{% macro system_currency_exponents(system_name) %}
    select
        currencies.currency,
        coalesce(exceptions.minor_units, currencies.minor_units) as minor_units
    from {{ ref('currencies') }} as currencies
    left join {{ ref('currency_exponents') }} as exceptions
        on
            upper(trim(exceptions.currency)) = currencies.currency
            and lower(trim(exceptions.system_name)) = '{{ system_name }}'
{% endmacro %}


{#- Is `amount_text` a whole, non-negative number of minor units at a known
    exponent? Only such amounts are converted; anything else stays as the
    system wrote it (unit 'minor') for staging to reject with its reason. -#}
{% macro system_minor_is_convertible(amount_text, minor_units) -%}
    ({{ minor_units }} is not null
        and {{ amount_text_is_decimal('trim(' ~ amount_text ~ ')') }}
        and trim({{ amount_text }}) not like '-%'
        and {{ amount_fraction_digits('trim(' ~ amount_text ~ ')') }} = 0)
{%- endmacro %}


{#- Minor units at the system's exponent as decimal text in major units
    ('12345' at 2 is '123.45', '500' at 0 is '500'); the text unchanged
    where it cannot be converted. No integer cast here: an amount beyond the
    money type stays exact text for staging to reject as out of range. -#}
{% macro system_minor_as_major_text(amount_text, minor_units) -%}
    case
        when {{ system_minor_is_convertible(amount_text, minor_units) }}
            then {{ major_to_text(
                minor_to_major('cast(trim(' ~ amount_text ~ ') as decimal(38, 0))', minor_units),
                minor_units) }}
        else {{ amount_text }}
    end
{%- endmacro %}


{#- The amount_unit that goes with system_minor_as_major_text. -#}
{% macro system_minor_amount_unit(amount_text, minor_units) -%}
    case when {{ system_minor_is_convertible(amount_text, minor_units) }} then 'major' else 'minor' end
{%- endmacro %}
