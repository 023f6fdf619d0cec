{#-
    Landing variants (issue 16, docs/connectors.md section 8). One shape
    (stripe, shopify, ...) is landed differently by Fivetran, Airbyte or an
    API export; a base model tells them apart by the columns present, and the
    var <shape>_variant (default auto) forces one.
-#}

{#- The source relation of `table_name` if it exists, else (on a warehouse)
    the first of `alternatives` that exists in the same schema (Airbyte's
    table names), else none. On DuckDB the on-run-start hook has already
    resolved the file (and its alternatives) into the source's view. A table
    exists when it has columns: an uncached look-up. -#}
{% macro refund_source_relation(source_name, table_name, alternatives=[]) %}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute or flag_var('refund_recon_lint', false) -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- if adapter.get_columns_in_relation(relation) | length > 0 -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- if target.type != 'duckdb' -%}
        {%- for name in alternatives -%}
            {%- set candidate = api.Relation.create(database=relation.database, schema=relation.schema, identifier=name) -%}
            {%- if adapter.get_columns_in_relation(candidate) | length > 0 -%}
                {{ return(candidate) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}


{#- The normalized column names of `relation` (empty when it is none, at
    parse time, or under the linter). -#}
{% macro refund_relation_columns(relation) %}
    {%- set names = [] -%}
    {%- if relation is not none and execute and not flag_var('refund_recon_lint', false) -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do names.append(normalized_column_name(column.name)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(names) }}
{% endmacro %}


{#- The landing variant of `shape`: var <shape>_variant when set (one of
    `rules`' names), else the first rule whose columns are all present in
    `relation` (rules: a list of [variant, [column, ...]]), else `default`
    (also at parse time and under the linter). -#}
{% macro refund_shape_variant(shape, relation, rules, default) %}
    {%- set names = [] -%}
    {%- for rule in rules -%}{%- do names.append(rule[0]) -%}{%- endfor -%}
    {%- if default not in names -%}{%- do names.append(default) -%}{%- endif -%}
    {%- set forced = var(shape ~ '_variant', 'auto') | string | trim | lower -%}
    {%- if forced not in ['auto', ''] -%}
        {%- if forced not in names -%}
            {{ refund_recon_fail("var " ~ shape ~ "_variant must be auto or one of " ~ names | join(', ') ~ ", got '" ~ forced ~ "'") }}
        {%- endif -%}
        {{ return(forced) }}
    {%- endif -%}
    {%- set columns = refund_relation_columns(relation) -%}
    {%- for rule in rules -%}
        {%- set ns = namespace(all_present=true) -%}
        {%- for column in rule[1] if column not in columns -%}
            {%- set ns.all_present = false -%}
        {%- endfor -%}
        {%- if ns.all_present and columns -%}
            {{ return(rule[0]) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(default) }}
{% endmacro %}


{#- Text that may be Unix epoch seconds (Stripe's API, Airbyte) as ISO 8601
    UTC text; any other text unchanged, for staging to parse or reject. -#}
{% macro epoch_seconds_as_iso_text(expr) -%}
    case
        when {{ regex_full_match('trim(' ~ expr ~ ')', '[0-9]{9,11}') }}
            then {{ adapter.dispatch('epoch_seconds_to_iso_text', 'refund_recon')('cast(trim(' ~ expr ~ ') as ' ~ dbt.type_bigint() ~ ')') }}
        else {{ expr }}
    end
{%- endmacro %}

{% macro default__epoch_seconds_to_iso_text(expr) -%}
    cast({{ dbt.dateadd('second', expr, "cast('1970-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")") }} as {{ dbt.type_string() }})
{%- endmacro %}

{% macro duckdb__epoch_seconds_to_iso_text(expr) -%}
    strftime(make_timestamp({{ expr }} * 1000000), '%Y-%m-%dT%H:%M:%SZ')
{%- endmacro %}

{% macro postgres__epoch_seconds_to_iso_text(expr) -%}
    to_char(to_timestamp({{ expr }}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
{%- endmacro %}


{#- A local wall-clock time (text) in the IANA or abbreviated time zone
    named by `tz_expr` (Adyen's reports: `Creation Date` with `TimeZone`
    CET) as ISO 8601 UTC text. Null when the zone is unknown or the time
    unreadable, so staging rejects the row instead of misreading it as UTC;
    the text unchanged when no zone is given. -#}
{% macro local_time_as_iso_utc_text(ts_expr, tz_expr) %}
    {{ return(adapter.dispatch('local_time_as_iso_utc_text', 'refund_recon')(ts_expr, tz_expr)) }}
{% endmacro %}

{% macro default__local_time_as_iso_utc_text(ts_expr, tz_expr) -%}
    {{ refund_recon_fail("local report times (Adyen's Creation Date + TimeZone) are converted on DuckDB and PostgreSQL only; on " ~ target.type ~ " land them in UTC") }}
{%- endmacro %}

{% macro duckdb__local_time_as_iso_utc_text(ts_expr, tz_expr) -%}
    case
        when nullif(trim({{ tz_expr }}), '') is null then {{ ts_expr }}
        when trim({{ tz_expr }}) in (select tz_names.name from pg_timezone_names() as tz_names)
            then strftime(timezone('UTC', timezone(trim({{ tz_expr }}), try_cast(trim({{ ts_expr }}) as timestamp))), '%Y-%m-%dT%H:%M:%SZ')
    end
{%- endmacro %}

{% macro postgres__local_time_as_iso_utc_text(ts_expr, tz_expr) -%}
    case
        when nullif(trim({{ tz_expr }}), '') is null then {{ ts_expr }}
        when trim({{ tz_expr }}) in (select tz_names.name from pg_timezone_names as tz_names)
            then to_char(
                ((({{ target.schema }}.refund_recon_try_timestamptz(trim({{ ts_expr }}) || '+00') at time zone 'UTC')
                    at time zone trim({{ tz_expr }})) at time zone 'UTC'),
                'YYYY-MM-DD"T"HH24:MI:SS"Z"'
            )
    end
{%- endmacro %}
