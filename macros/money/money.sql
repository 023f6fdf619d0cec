{#-
    Money is exact: integers in minor units inside, decimals in the marts.
    ISO 4217 exponents are 0, 2, 3 or 4; the CASE below covers 0..4.
-#}

{#- The largest amount a row may carry: amounts are 64-bit integers of minor
    units (bigint on every engine), so 9,223,372,036,854,775,807 minor units
    (USD 92,233,720,368,547,758.07). A larger amount is a rejected row
    ('amount out of range'), never a failed build. -#}
{% macro amount_minor_limit() -%}
    9223372036854775807
{%- endmacro %}


{#- Plain decimal text the parser reads: an optional minus, digits (at most
    20 after leading zeros, so every engine casts it to decimal(38, 9)), an
    optional fraction. Longer numbers are numbers (amount_text_is_number) but
    out of range. -#}
{% macro amount_text_is_decimal(amount_text) -%}
    {{ regex_full_match(amount_text, '-?0*[0-9]{1,20}([.][0-9]+)?') }}
{%- endmacro %}


{#- Any plain decimal number, however long. -#}
{% macro amount_text_is_number(amount_text) -%}
    {{ regex_full_match(amount_text, '-?[0-9]+([.][0-9]+)?') }}
{%- endmacro %}


{#- A number in exponent notation (1E+3, 2.5e-1): a float's spelling, not the
    decimal text the inputs carry. -#}
{% macro amount_text_is_exponent(amount_text) -%}
    {{ regex_full_match(amount_text, '-?([0-9]+[.]?[0-9]*|[.][0-9]+)[eE][-+]?[0-9]+') }}
{%- endmacro %}


{#- Significant digits after the point ('12.500' has 1: trailing zeros are exact). -#}
{% macro amount_fraction_digits(amount_text) -%}
    coalesce(length({{ adapter.dispatch('trim_trailing_zeros', 'refund_recon')(dbt.split_part(amount_text, "'.'", 2)) }}), 0)
{%- endmacro %}

{% macro default__trim_trailing_zeros(expr) -%}
    rtrim({{ expr }}, '0')
{%- endmacro %}

{#- Spark's two-argument rtrim takes the characters first (rtrim('0', x)):
    the standard form says which is which. -#}
{% macro spark__trim_trailing_zeros(expr) -%}
    trim(trailing '0' from {{ expr }})
{%- endmacro %}


{#- 10^exponent for an exponent of 0..4 (null otherwise). -#}
{% macro minor_unit_scale(minor_units) -%}
    case {{ minor_units }}
        {%- for exponent in range(5) %}
        when {{ exponent }} then {{ 10 ** exponent }}
        {%- endfor %}
    end
{%- endmacro %}


{#- Decimal text already known to be a plain decimal (amount_text_is_decimal)
    times `scale`, to bigint; null when the result is larger than the money
    type holds (amount_minor_limit). The cast runs only on values in range. -#}
{% macro scaled_text_to_minor(amount_text, scale) -%}
    case
        when cast({{ amount_text }} as decimal(38, 9)) * {{ scale }} <= {{ amount_minor_limit() }}
            then cast(cast({{ amount_text }} as decimal(38, 9)) * {{ scale }} as {{ dbt.type_bigint() }})
    end
{%- endmacro %}


{#- Decimal text in major units to integer minor units; null unless the text
    is a plain non-negative decimal with no more digits than the currency has
    and the amount fits the money type. -#}
{% macro major_text_to_minor(amount_text, minor_units) -%}
    case
        when {{ amount_text_is_decimal(amount_text) }}
            and {{ amount_text }} not like '-%'
            and {{ amount_fraction_digits(amount_text) }} <= {{ minor_units }}
            then {{ scaled_text_to_minor(amount_text, minor_unit_scale(minor_units)) }}
    end
{%- endmacro %}


{#- An amount as a shape wrote it to integer minor units: `amount_unit`
    'minor' is a whole number of minor units already (Stripe, Adyen);
    anything else is decimal text in major units. Null when unparseable or
    out of range (input_checks.sql's check_money says which). -#}
{% macro amount_text_to_minor(amount_text, amount_unit, minor_units) -%}
    case
        when {{ amount_unit }} = 'minor' then
            case
                when {{ amount_text_is_decimal(amount_text) }}
                    and {{ amount_text }} not like '-%'
                    and {{ amount_fraction_digits(amount_text) }} = 0
                    then {{ scaled_text_to_minor(amount_text, 1) }}
            end
        else {{ major_text_to_minor(amount_text, minor_units) }}
    end
{%- endmacro %}


{#- Integer minor units to an exact decimal in major units. -#}
{% macro minor_to_major(amount_minor, minor_units) -%}
    cast(
        cast({{ amount_minor }} as decimal(38, 4))
        * case {{ minor_units }}
            {%- for exponent in range(5) %}
            when {{ exponent }} then {{ '1' if exponent == 0 else '0.' ~ '0' * (exponent - 1) ~ '1' }}
            {%- endfor %}
        end
        as decimal(38, 4)
    )
{%- endmacro %}


{#- An exact decimal in major units as text at the currency's exponent:
    37224 (JPY, 0), 12.50 (EUR, 2), 66.967 (KWD, 3). The amount is exact at
    that exponent (it came from integer minor units), so nothing is rounded.
    An unknown exponent shows 2 decimals. -#}
{% macro major_to_text(amount_major, minor_units) -%}
    case {{ minor_units }}
        {%- for exponent in range(5) if exponent != 2 %}
        when {{ exponent }} then cast(cast({{ amount_major }} as decimal(38, {{ exponent }})) as {{ dbt.type_string() }})
        {%- endfor %}
        else cast(cast({{ amount_major }} as decimal(38, 2)) as {{ dbt.type_string() }})
    end
{%- endmacro %}


{#- An amount as a finance person writes it: 'USD 1234.50', 'JPY 500', 'KWD 12.345'. -#}
{% macro format_money(amount_minor, minor_units, currency) -%}
    case when {{ amount_minor }} is not null then
        {{ dbt.concat([
            "coalesce(" ~ currency ~ ", '')",
            "' '",
            major_to_text(minor_to_major(amount_minor, minor_units), minor_units),
        ]) }}
    end
{%- endmacro %}
