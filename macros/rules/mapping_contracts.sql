{#-
    What the mapping seeds may not say, whatever a user edits: the contracts
    tests/mapping checks in every build (a checkpoint included), so a mapping
    edit cannot take a refund the processor settled out of the confirmation
    check unnoticed.
-#}

{#- The statuses each vendor documents as a settled refund, as the seed keys
    them (source_system, system_name, raw status lower-cased): each must map
    to succeeded and final where the seed lists it. From
    tests/fixtures/connectors/documented_codes/ (each row's source is there;
    test_mapping_contracts.py checks this list against those files). -#}
{% macro documented_settled_statuses() %}
    {{ return([
        ('processor', 'stripe', 'succeeded'),
        ('processor', 'adyen', 'refund:true'),
        ('processor', 'adyen', 'cancel_or_refund:true:refund'),
        ('processor', 'adyen', 'refund_with_data:true'),
        ('processor', 'adyen', 'refunded'),
        ('processor', 'adyen', 'refundedexternally'),
        ('processor', 'adyen', 'refundedexternallywithinfo'),
        ('processor', 'adyen', 'refundedbulk'),
        ('processor', 'paypal', 'completed'),
        ('processor', 'paypal', 's'),
        ('processor', 'paypal', 'f'),
        ('storefront', 'shopify', 'success'),
    ]) }}
{% endmacro %}


{#- Raw statuses that say "settled" in any system, documented or not (the
    generic format, a processor added later): each must map to succeeded and
    final too. -#}
{% macro settled_status_words() %}
    {{ return(['succeeded', 'success', 'successful', 'completed', 'complete', 'settled', 'refunded', 'paid']) }}
{% endmacro %}


{#- The canonical statuses a refund cannot leave except for another final
    one: is_final is true exactly for these. -#}
{% macro final_canonical_statuses() %}
    {{ return(['succeeded', 'failed', 'canceled']) }}
{% endmacro %}
