{#-
    The checks every input row must pass to take part in the reconciliation,
    as (condition that marks the row bad, column, reason) for
    first_failed_check. Each reads the cleaned / parsed columns of a staging
    model: <column> is the trimmed text, <column>_text the raw text of a
    parsed value.
-#}

{% macro check_required_text(column) %}
    {{ return([(column ~ ' is null', column, 'missing ' ~ column)]) }}
{% endmacro %}


{#- Reads amount_minor too (amount_text_to_minor of the same row): a parsed
    amount passed every amount check already (a plain non-negative decimal,
    no more decimals than the currency or its unit allows, within the money
    type), so the checks that read the text again run only where it is null.
    Same outcome for every row; most rows then skip the regular expressions
    and splits, once per output column of first_failed_check. The last check
    names what is left: a well-formed amount too large for the money type
    (macros/money: amount_minor_limit). -#}
{% macro check_money() %}
    {%- set unparsed = 'amount_minor is null and ' -%}
    {{ return([
        ('currency is null', 'currency', 'missing currency'),
        ('minor_units is null', 'currency', 'unknown currency code'),
        ('amount_text is null', 'amount', 'missing amount'),
        (unparsed ~ amount_text_is_exponent('amount_text'), 'amount', 'amount in exponent notation'),
        (unparsed ~ 'not ' ~ amount_text_is_number('amount_text'), 'amount', 'unparseable amount'),
        (unparsed ~ "amount_text like '-%'", 'amount', 'negative amount'),
        (unparsed ~ amount_fraction_digits('amount_text') ~ " > 0 and amount_unit = 'minor'", 'amount', 'minor-unit amount is not a whole number'),
        (unparsed ~ amount_fraction_digits('amount_text') ~ ' > minor_units', 'amount', 'more decimals than the currency allows'),
        ('amount_minor is null', 'amount', 'amount out of range (larger than the money type holds)'),
    ]) }}
{% endmacro %}


{% macro check_timestamp(column, required=true) %}
    {%- set checks = [] -%}
    {%- if required -%}
        {%- do checks.append((column ~ '_text is null', column, 'missing ' ~ column)) -%}
    {%- endif -%}
    {#- A local time with a zone abbreviation no seed row gives an offset
        for (a base model writes '<date> <time> <abbreviation>', seed
        time_zone_abbreviations): the reason names the abbreviation. -#}
    {%- set zone = 'reverse(' ~ dbt.split_part('reverse(' ~ column ~ '_text)', "' '", 1) ~ ')' -%}
    {%- do checks.append((
        column ~ '_text is not null and ' ~ column ~ ' is null and '
            ~ regex_full_match(column ~ '_text', '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.,]+ [A-Za-z][A-Za-z0-9+-]{0,9}'),
        column,
        {'sql': dbt.concat(["'time zone '", zone, "' in " ~ column ~ " has no UTC offset in seed time_zone_abbreviations'"])}
    )) -%}
    {%- do checks.append((column ~ '_text is not null and ' ~ column ~ ' is null', column, 'unparseable timestamp in ' ~ column)) -%}
    {#- A refund from the future is a clock or format fault (a day-month swap,
        a year typo), not a refund: more than a day after as_of rejects it. -#}
    {%- do checks.append((
        column ~ ' > ' ~ dbt.dateadd('day', 1, as_of_literal()),
        column,
        column ~ ' is more than a day after as_of'
    )) -%}
    {{ return(checks) }}
{% endmacro %}
