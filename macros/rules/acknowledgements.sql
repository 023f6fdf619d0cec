{#-
    Acknowledgements (seed variance_acknowledgements): a variance a person
    accepted for a while. An acknowledgement holds only while the variance is
    the same (type, amount delta, currency) and as_of is not past the end of
    expires_on in the business timezone; the contract tests
    (tests/acknowledgements/) reject a row these macros cannot read.
-#}

{#- A seed cell as text: trimmed, empty as null. dbt-spark's seed loader
    writes an empty cell of a string column as the text 'None' (checked on
    a local Spark session), so 'None' is empty too, on every engine alike. -#}
{% macro seed_text(column) -%}
    nullif(nullif(trim({{ column }}), ''), 'None')
{%- endmacro %}


{#- True when `text` is a real calendar date written YYYY-MM-DD (2026-02-30
    is not). The digits are cast only where the pattern matched. -#}
{% macro is_calendar_date(text) -%}
    case
        when {{ regex_full_match(text, '[0-9]{4}-[0-9]{2}-[0-9]{2}') }} then
            cast(substring({{ text }}, 6, 2) as integer) between 1 and 12
            and cast(substring({{ text }}, 9, 2) as integer) between 1 and case
                when cast(substring({{ text }}, 6, 2) as integer) in (4, 6, 9, 11) then 30
                when cast(substring({{ text }}, 6, 2) as integer) = 2 then
                    case
                        when mod(cast(substring({{ text }}, 1, 4) as integer), 400) = 0 then 29
                        when mod(cast(substring({{ text }}, 1, 4) as integer), 100) = 0 then 28
                        when mod(cast(substring({{ text }}, 1, 4) as integer), 4) = 0 then 29
                        else 28
                    end
                else 31
            end
        else false
    end
{%- endmacro %}


{#- The acknowledged amount delta (decimal text in major units, may be
    negative) as integer minor units at `minor_units`; null when empty (a
    variance without a delta, such as a currency mismatch) or when it is not
    exact decimal text at that exponent (the contract test names it). -#}
{% macro acknowledged_delta_minor(text, minor_units) -%}
    case
        when {{ text }} like '-%' then -1 * {{ major_text_to_minor('substring(' ~ text ~ ', 2)', minor_units) }}
        else {{ major_text_to_minor(text, minor_units) }}
    end
{%- endmacro %}


{#- The state of an acknowledgement (alias `ack`, a row of
    int_variance_acknowledgements_parsed) of a variance that is open: superseded
    when the variance is no longer what was acknowledged (type, currency or
    delta differ; "no delta" equals only "no delta"), else expired when as_of,
    in the business timezone, is past the day expires_on, else active. -#}
{% macro acknowledgement_state(ack, variance_type, currency, amount_delta_minor, as_of) -%}
    case
        when not (
            coalesce({{ ack }}.variance_type = {{ variance_type }}, false)
            and coalesce({{ ack }}.currency = {{ currency }}, false)
            and coalesce(
                {{ ack }}.amount_delta_minor = {{ amount_delta_minor }},
                {{ ack }}.amount_delta_minor is null and {{ amount_delta_minor }} is null
            )
        ) then 'superseded'
        when {{ ack }}.expires_on < cast({{ to_business_time(as_of) }} as date) then 'expired'
        else 'active'
    end
{%- endmacro %}
