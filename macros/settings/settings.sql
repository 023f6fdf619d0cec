{#-
    The reconciliation settings (dbt vars), validated once so that nothing a
    user types can reach SQL as anything but a literal.
-#}

{% macro refund_recon_fail(message) %}
    {{ exceptions.raise_compiler_error("refund_recon: " ~ message) }}
{% endmacro %}


{#- Fails with `error` (a check's message, see the <check>_error macros) unless it is empty. -#}
{% macro refund_recon_fail_if(error) %}
    {%- if error -%}
        {{ refund_recon_fail(error) }}
    {%- endif -%}
{% endmacro %}


{% macro as_of_text() %}
    {#- The checkpoint clock as given: var as_of, else env REFUND_RECON_AS_OF
        (the runner's way: a var change makes dbt parse the whole project
        again, an env var read only while executing does not, so checkpoints
        of one database reuse dbt's partial parse), else ''. The env var is
        read only when executing: parsing never records it. -#}
    {%- set raw = var('as_of', '') | string | trim -%}
    {%- if raw in ('', 'None', 'now') and execute -%}
        {%- set raw = env_var('REFUND_RECON_AS_OF', '') | string | trim -%}
    {%- endif -%}
    {{- raw -}}
{%- endmacro %}


{% macro as_of_literal() %}
    {#- The checkpoint clock as a UTC timestamp literal. None given = the time this
        dbt invocation started, so every model of one run shares one clock. -#}
    {%- set raw = as_of_text() | string | trim -%}
    {%- if raw in ('', 'None', 'now') -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
    {%- else -%}
        {%- set pattern = '^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?(Z|[+-]00(:?00)?)?$' -%}
        {%- if not modules.re.match(pattern, raw) -%}
            {{ refund_recon_fail("var as_of must be an ISO 8601 UTC time such as 2026-03-01T00:00:00Z, got '" ~ raw ~ "'") }}
        {%- endif -%}
        {%- set value = modules.re.sub('(Z|[+-]00(:?00)?)$', '', raw) | replace('T', ' ') -%}
        {%- if value | length == 10 -%}{%- set value = value ~ ' 00:00:00' -%}{%- endif -%}
    {%- endif -%}
    cast('{{ value }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- Each validating wrapper below (name_var, identifier_var, ...) reads a var
    and fails with the error its <wrapper>_error(name, value) returns for the
    value: '' when the value is valid, else the message. The checks are pure,
    so tests/python/test_settings_injection.py runs them all in one dbt
    invocation (refund_recon_setting_errors). -#}

{#- A var that must be a whole number (of `unit`), validated. -#}
{% macro whole_number_var(name, default, unit) %}
    {%- set raw = var(name, default) | string | trim -%}
    {%- set error = whole_number_var_error(name, raw, unit) -%}
    {%- do refund_recon_fail_if(error) -%}
    {{- return(raw | int) -}}
{%- endmacro %}


{% macro whole_number_var_error(name, value, unit) %}
    {%- set raw = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{1,6}$', raw) -%}
        {{- return("var " ~ name ~ " must be a whole number of " ~ unit ~ ", got '" ~ raw ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}


{% macro confirmation_sla_minutes() %}
    {{- whole_number_var('confirmation_sla_minutes', 30, 'minutes') -}}
{%- endmacro %}


{% macro amount_tolerance() %}
    {%- set raw = var('amount_tolerance', 0) | string | trim -%}
    {%- set error = amount_tolerance_error(raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    cast({{ raw }} as {{ dbt.type_numeric() }})
{%- endmacro %}


{% macro amount_tolerance_error(value) %}
    {%- set raw = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{1,12}(\.[0-9]{1,4})?$', raw) -%}
        {{- return("var amount_tolerance must be a non-negative amount in major units such as 0.01, got '" ~ raw ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}


{% macro business_timezone() %}
    {%- set raw = var('business_timezone', 'UTC') | string | trim -%}
    {%- set error = business_timezone_error(raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {{- raw -}}
{%- endmacro %}


{% macro business_timezone_error(value) %}
    {%- set raw = value | string | trim -%}
    {%- if not modules.re.match('^[A-Za-z][A-Za-z0-9_+/-]{0,63}$', raw) -%}
        {{- return("var business_timezone must be an IANA zone name such as Europe/Berlin, got '" ~ raw ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}


{% macro refund_data_dir() %}
    {#- The folder the DuckDB inputs are read from: var data_dir, else env
        REFUND_RECON_DATA_DIR, else the bundled sample data. -#}
    {%- set raw = var('data_dir', '') | string | trim -%}
    {%- if raw in ('', 'None') -%}
        {%- set raw = env_var('REFUND_RECON_DATA_DIR', '') | trim -%}
    {%- endif -%}
    {%- if raw == '' -%}
        {%- set raw = 'data/sample' -%}
    {%- endif -%}
    {%- set error = refund_data_dir_error(raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {{- return(raw.rstrip('/')) -}}
{%- endmacro %}


{% macro refund_data_dir_error(value) %}
    {%- set raw = value | string | trim -%}
    {#- On DuckDB the folder is read literally (glob characters escaped,
        macros/inputs/register_refund_inputs.sql), so * ? [ ] may be in it. -#}
    {%- set glob_characters = '*?\\[\\]' if target.type == 'duckdb' else '' -%}
    {%- if not modules.re.match('^[A-Za-z0-9_./ :\\\\~+' ~ glob_characters ~ '-]+$', raw) -%}
        {{- return("data_dir may hold only letters, digits, spaces and . _ - / \\ : ~ +" ~ (" * ? [ ]" if glob_characters else "") ~ ", got '" ~ raw ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}


{% macro source_freshness_hours() %}
    {#- A source whose newest record is older than this many hours at as_of is stale. -#}
    {{- whole_number_var('source_freshness_hours', 24, 'hours') -}}
{%- endmacro %}


{% macro input_encoding() %}
    {#- The character encoding of CSV inputs: utf-8 (default), utf-16 or latin-1. -#}
    {%- set raw = var('input_encoding', 'utf-8') | string | trim | lower -%}
    {%- set error = input_encoding_error(raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {{- return(raw) -}}
{%- endmacro %}


{% macro input_encoding_error(value) %}
    {%- set raw = value | string | trim | lower -%}
    {%- if raw not in ('utf-8', 'utf-16', 'latin-1') -%}
        {{- return("var input_encoding must be utf-8, utf-16 or latin-1, got '" ~ raw ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}


{#- A var naming a column or JSON key: a plain lower-case name, validated. -#}
{% macro name_var(name, default=none) %}
    {%- set raw = var(name, default) | string | trim | lower -%}
    {%- set error = name_var_error(name, raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {{- return(raw) -}}
{% endmacro %}


{% macro name_var_error(name, value) %}
    {%- set raw = value | string | trim | lower -%}
    {%- if not modules.re.match('^[a-z_][a-z0-9_]{0,63}$', raw) -%}
        {{- return("var " ~ name ~ " must be a plain column or key name, got '" ~ raw ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{% endmacro %}


{#- A var holding a list: a YAML list, or text as typed on a command line
    ('stripe, adyen' or '[stripe, adyen]'). Items are trimmed strings. -#}
{% macro list_var(name, default) %}
    {{ return(list_var_items(var(name, default))) }}
{% endmacro %}


{#- The items of a list var's value, as list_var reads them. -#}
{% macro list_var_items(value) %}
    {%- set raw = value -%}
    {%- if raw is string -%}
        {%- set raw = (raw | replace('[', '') | replace(']', '') | replace('"', '') | replace("'", '')).split(',') -%}
    {%- endif -%}
    {%- set items = [] -%}
    {%- for item in raw -%}
        {%- do items.append(item | string | trim) -%}
    {%- endfor -%}
    {{ return(items) }}
{% endmacro %}


{#- A var naming a database, schema or table: a plain identifier, validated.
    Unset, it is not checked (the default is the project's own). -#}
{% macro identifier_var(name, default=none) %}
    {%- set raw = var(name, default) -%}
    {%- set error = identifier_var_error(name, raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {{- return(raw) -}}
{% endmacro %}


{% macro identifier_var_error(name, value) %}
    {%- if value is not none and not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_$-]{0,127}', value | string) -%}
        {{- return("var " ~ name ~ " must be a plain database, schema or table name (letters, digits, _, $ and -), got '" ~ value ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{% endmacro %}


{#- A var holding a SQL expression over a table's columns, such as a source's
    loaded_at_field `try_cast(created_at as timestamptz)`, validated: column
    names, numbers, 'literals' (no quote or backslash inside), parentheses,
    commas, dots and spaces; a function or type word only from the lists
    below, and a column name only between punctuation, so that no clause,
    subquery or second statement fits. Unset, it is not checked. -#}
{% macro sql_expression_var(name, default=none) %}
    {%- set raw = var(name, default) -%}
    {%- set error = sql_expression_var_error(name, raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {{- return(raw) -}}
{% endmacro %}


{% macro sql_expression_var_error(name, value) %}
    {%- set raw = value -%}
    {%- if raw is none -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set functions = ['cast', 'try_cast', 'to_timestamp', 'strptime', 'try_strptime', 'epoch_ms', 'coalesce', 'nullif', 'timezone'] -%}
    {%- set types = ['timestamptz', 'timestamp', 'date', 'with', 'time', 'zone', 'varchar', 'text', 'bigint', 'integer', 'double'] -%}
    {%- set tokens = modules.re.findall("[A-Za-z_][A-Za-z0-9_]*|[0-9]+|'[^'\\\\]*'|\\S", raw | string) -%}
    {%- set ns = namespace(bad=not tokens) -%}
    {%- for token in tokens -%}
        {%- set word = token | lower -%}
        {%- set before = (loop.previtem or '') | lower -%}
        {%- set after = (loop.nextitem or '') | lower -%}
        {%- if not modules.re.fullmatch("[a-z_][a-z0-9_]*|[0-9]+|'[^'\\\\]*'|[(),.]", word) -%}
            {%- set ns.bad = true -%}
        {%- elif not modules.re.match('[a-z_]', word) or word in types -%}
            {#- punctuation, a number, a literal or a type word -#}
        {%- elif after == '(' -%}
            {%- set ns.bad = ns.bad or word not in functions -%}
        {%- elif word == 'as' -%}
            {%- set ns.bad = ns.bad or after not in types -%}
        {%- else -%}
            {#- a column name, alone between punctuation -#}
            {%- set ns.bad = ns.bad or before not in ('', '(', ',', '.') or after not in ('', ')', ',', '.', 'as') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if ns.bad -%}
        {{- return("var " ~ name ~ " must be a simple expression over column names such as cast(created_at as timestamp), got '" ~ raw ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{% endmacro %}


{#- A var that is true or false (a YAML boolean, or the text true/false). -#}
{% macro flag_var(name, default) %}
    {%- set raw = var(name, default) -%}
    {%- set error = flag_var_error(name, raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {{- return((raw | string | lower) == 'true') -}}
{% endmacro %}


{% macro flag_var_error(name, value) %}
    {%- if (value | string | lower) not in ('true', 'false') -%}
        {{- return("var " ~ name ~ " must be true or false, got '" ~ value ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{% endmacro %}


{#- For tests: each of `cases` ([check, var name, value]; check a wrapper's
    name, or the name of a macro below that reads one var and checks it) with
    the error that check gives the value ('' when valid, none when `check` is
    no check), and the settings the on-run-start hook checks. Printed as one
    line of JSON after `refund_recon_setting_errors: `. -#}
{% macro refund_recon_setting_errors(cases) %}
    {%- set wrappers = {
        'name_var': name_var_error, 'identifier_var': identifier_var_error,
        'sql_expression_var': sql_expression_var_error, 'flag_var': flag_var_error,
        'netsuite_name_list_var': netsuite_name_list_var_error,
    } -%}
    {#- The macros that read one var each and check it, by the macro's name. -#}
    {%- set macros = {
        'refund_data_dir': refund_data_dir_error, 'input_encoding': input_encoding_error,
        'amount_tolerance': amount_tolerance_error, 'business_timezone': business_timezone_error,
        'suggested_match_min_score': suggested_match_min_score_error, 'adyen_variant': adyen_variant_error,
        'adyen_settlement_refund_types': adyen_settlement_refund_types_error,
        'paypal_refund_event_codes': paypal_refund_event_codes_error, 'netsuite_refund_types': netsuite_refund_types_error,
    } -%}
    {%- set results = [] -%}
    {%- for kind, name, value in cases -%}
        {%- if kind == 'whole_number_var' -%}
            {%- set error = whole_number_var_error(name, value, 'units') -%}
        {%- elif kind in macros -%}
            {%- set error = macros[kind](value) -%}
        {%- elif kind in wrappers -%}
            {%- set error = wrappers[kind](name, value) -%}
        {%- else -%}
            {%- set error = none -%}
        {%- endif -%}
        {%- do results.append([kind, name, value, none if error is none else ('refund_recon: ' ~ error) if error else '']) -%}
    {%- endfor -%}
    {{- print('refund_recon_setting_errors: ' ~ tojson({'errors': results, 'hook': refund_input_settings()})) -}}
{% endmacro %}
