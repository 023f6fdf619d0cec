{#-
    Rules about a refund that more than one model needs: what scope it has,
    and which GL reason code the ERP must carry. Each reads columns of
    int_refunds_matched; the variance detection and the expected postings
    both call them, so the rule lives in one place.
-#}

{#- The refund's scope: the storefront's refund_type; else partial when its
    order has more than one live (not failed or canceled) processor refund;
    else unknown (null), and scope is not checked. -#}
{% macro refund_scope(live_refunds_on_order, relation=none) -%}
    {%- set refund_type = (relation ~ '.' if relation else '') ~ 'storefront_refund_type' -%}
    case
        when {{ refund_type }} in ('partial', 'full') then {{ refund_type }}
        when {{ live_refunds_on_order }} > 1 then 'partial'
    end
{%- endmacro %}


{#- The business reason decides the GL reason code: the storefront's; the
    processor's only where the storefront gave none. -#}
{% macro required_gl_reason_code() -%}
    case
        when storefront_raw_reason is not null then storefront_gl_reason_code
        else processor_gl_reason_code
    end
{%- endmacro %}


{#- Whether the deciding reason has a mapping row (no reason at all: true). -#}
{% macro is_deciding_reason_mapped() -%}
    case
        when storefront_raw_reason is not null then is_storefront_reason_mapped
        when processor_raw_reason is not null then is_processor_reason_mapped
        else true
    end
{%- endmacro %}
