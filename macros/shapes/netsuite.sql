{#- The NetSuite transaction types that are refunds (var
    netsuite_refund_transaction_types), validated, lower-cased. -#}
{% macro netsuite_refund_types() %}
    {%- set raw = var('netsuite_refund_transaction_types', ['CustRfnd', 'CashRfnd']) -%}
    {%- set error = netsuite_refund_types_error(raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {%- set types = [] -%}
    {%- for name in list_var_items(raw) -%}
        {%- do types.append(name | lower) -%}
    {%- endfor -%}
    {{ return(types) }}
{% endmacro %}


{#- The check of netsuite_refund_transaction_types: '' or its error (macros/settings/settings.sql). -#}
{% macro netsuite_refund_types_error(value) %}
    {%- for name in list_var_items(value) -%}
        {%- if not modules.re.match('^[A-Za-z0-9_]{1,40}$', name) -%}
            {{- return("var netsuite_refund_transaction_types must list type names such as CustRfnd, got '" ~ name ~ "'") -}}
        {%- endif -%}
    {%- endfor -%}
    {{- return('') -}}
{% endmacro %}


{#- The value of list var `name` (a list as list_var reads it): plain names
    (NetSuite codes such as V or Bank), validated, lower-cased. -#}
{% macro netsuite_name_list_var(name, default) %}
    {%- set raw = var(name, default) -%}
    {%- set error = netsuite_name_list_var_error(name, raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    {%- set names = [] -%}
    {%- for item in list_var_items(raw) -%}
        {%- do names.append(item | string | lower) -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}


{% macro netsuite_name_list_var_error(name, value) %}
    {%- for item in list_var_items(value) -%}
        {%- if not modules.re.match('^[A-Za-z0-9_]{1,40}$', item | string) -%}
            {{- return("var " ~ name ~ " must list plain names such as V or Bank, got '" ~ item ~ "'") -}}
        {%- endif -%}
    {%- endfor -%}
    {{- return('') -}}
{% endmacro %}


{#- NetSuite timestamp text as Fivetran writes it, with a one-digit hour
    (`2002-03-31 0:00:00`), padded to two digits so it reads as ISO 8601;
    anything else unchanged, for staging to parse or reject. -#}
{% macro netsuite_timestamp_text(expr) -%}
    regexp_replace(trim({{ expr }}), '^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]):', '\1 0\2:')
{%- endmacro %}


{#- Text that is an integer as a bigint (for ordering), else null. -#}
{% macro safe_cast_bigint(expr) -%}
    case when {{ regex_full_match('trim(' ~ expr ~ ')', '[0-9]{1,18}') }} then cast(trim({{ expr }}) as {{ dbt.type_bigint() }}) end
{%- endmacro %}


{#- `amount` / `rate` (decimal texts) as text at the currency's exponent
    (`minor_units`, 0 to 4) when that quotient is exact: its product with
    the rate gives back the amount to the last digit. Otherwise null: the
    caller rejects the row, nothing is rounded. The division only proposes
    the candidate (DuckDB divides decimals in double precision); the check
    is exact decimal multiplication. Callers
    bound the inputs: at most 6 decimals in amount, 10 in rate. -#}
{% macro netsuite_exact_quotient_text(amount, rate, minor_units) -%}
    {%- set quotient = 'cast(trim(' ~ amount ~ ') as decimal(22, 6)) / cast(trim(' ~ rate ~ ') as decimal(17, 10))' -%}
    case
        when cast(trim({{ rate }}) as decimal(17, 10)) <= 0 or {{ quotient }} >= 100000000000000 then null
        {%- for exponent in range(5) %}
        {%- set candidate = 'cast(round(' ~ quotient ~ ', ' ~ exponent ~ ') as decimal(20, ' ~ exponent ~ '))' %}
        when {{ minor_units }} = {{ exponent }}
            and {{ candidate }} * cast(trim({{ rate }}) as decimal(17, 10)) = cast(trim({{ amount }}) as decimal(22, 6))
            then cast({{ candidate }} as {{ dbt.type_string() }})
        {%- endfor %}
    end
{%- endmacro %}
