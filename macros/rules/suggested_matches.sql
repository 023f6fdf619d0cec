{#- Settings and helpers of fct_suggested_matches (docs/marts.md). -#}

{#- The lowest score at which a candidate counterpart is shown (var
    suggested_match_min_score, 0 to 1, default 0.7): at that score a pair
    needs a resembling reference, or the same order id with the same amount
    or a time within the hour. Amount and time alone never reach it. -#}
{% macro suggested_match_min_score() %}
    {%- set raw = var('suggested_match_min_score', 0.7) | string | trim -%}
    {%- set error = suggested_match_min_score_error(raw) -%}
    {%- do refund_recon_fail_if(error) -%}
    cast({{ raw }} as decimal(5, 4))
{%- endmacro %}


{#- The check of suggested_match_min_score: '' or its error (macros/settings/settings.sql). -#}
{% macro suggested_match_min_score_error(value) %}
    {%- set raw = value | string | trim -%}
    {%- if not modules.re.match('^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$', raw) -%}
        {{- return("var suggested_match_min_score must be a number from 0 to 1 with at most 4 decimals such as 0.7, got '" ~ raw ~ "'") -}}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}
