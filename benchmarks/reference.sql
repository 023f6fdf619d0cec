-- The same reconciliation as the dbt project, hand-written as one DuckDB
-- script: the lower bound the project's build is measured against
-- (scripts/benchmark.py). Same inputs, same rules, same variances (checked by
-- the benchmark and by tests/python/test_benchmark_paths.py), none of the
-- project's structure: no staging tables, no tests, no history.
--
-- Placeholders (string.Template): ${data_dir} ${seeds_dir} ${as_of}
-- ${sla_seconds} ${tolerance} ${timezone}. Result: table `variances`
-- (refund_id, variance_type, discrepancy_system, amount_delta, currency).

-- Naive timestamps are read as UTC: the session clock is UTC so that one cast
-- to timestamptz handles the date-only, naive and offset forms alike.
set TimeZone = 'UTC';

-- A timestamp: one regular expression for the three accepted forms (date;
-- date and time; date, time and offset), then the cast, which also rejects
-- impossible dates and times and applies the offset. The result is the UTC
-- wall time, taken from the instant's microseconds (no ICU time-zone call).
create or replace temp macro ts_utc(x) as case
    when regexp_full_match(x, '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?( ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?))?)?')
        -- (replace only where there is a comma: replacing in every value costs as much as the cast)
        then make_timestamp(epoch_us(try_cast(case when contains(x, ',') then replace(x, ',', '.') else x end as timestamptz)))
end;
-- An amount in minor units; null when the text is not a plain non-negative
-- decimal, has more decimals than the currency allows (trailing zeros aside),
-- or the currency is unknown (mu null): a null here is the rejection. One
-- constant regular expression per minor-unit count checks form and decimals
-- in one pass; the cast needs no more than 4 decimals once that check passed.
create or replace temp macro amount_ok(a, mu) as case mu
    when 0 then regexp_full_match(a, '[0-9]{1,15}([.]0+)?')
    when 1 then regexp_full_match(a, '[0-9]{1,15}([.][0-9]0*)?')
    when 2 then regexp_full_match(a, '[0-9]{1,15}([.][0-9]{1,2}0*)?')
    when 3 then regexp_full_match(a, '[0-9]{1,15}([.][0-9]{1,3}0*)?')
    when 4 then regexp_full_match(a, '[0-9]{1,15}([.][0-9]{1,4}0*)?')
    else regexp_full_match(a, '[0-9]{1,15}([.][0-9]+)?') and length(rtrim(coalesce(split_part(a, '.', 2), ''), '0')) <= mu
end;
create or replace temp macro to_minor(a, mu) as case
    when amount_ok(a, mu) and mu <= 4
        then cast(cast(a as decimal(38, 4)) * (case mu when 0 then 1 when 1 then 10 when 2 then 100 when 3 then 1000 else 10000 end) as bigint)
    when amount_ok(a, mu)
        then cast(cast(a as decimal(38, 9)) * 10000 as bigint)
end;
-- A timestamp is bad when its text does not parse or it lies after as_of's next day.
create or replace temp macro bad_ts(txt, ts) as (txt is not null and ts is null) or ts > timestamp '${as_of}' + interval 1 day;
create or replace temp macro period_of(ts) as strftime(timezone('${timezone}', timezone('UTC', ts)), '%Y-%m');
create or replace temp macro nz(x) as nullif(trim(x), '');
create or replace temp macro pow10(mu) as case mu when 0 then 1 when 1 then 10 when 2 then 100 when 3 then 1000 else 10000 end;
create or replace temp macro major(x, mu) as
    cast(cast(x as decimal(38, 4)) * case mu when 0 then 1 when 1 then 0.1 when 2 then 0.01 when 3 then 0.001 else 0.0001 end
         as decimal(38, 4));

-- Seeds (small): currencies and the three mappings, keys trimmed and lower-cased.
create or replace temp table currencies as select * from read_csv('${seeds_dir}/currencies.csv', header = true);
create or replace temp table status_map as
    select lower(trim(source_system)) as source_system, lower(trim(system_name)) as system_name,
           lower(trim(raw_status)) as raw_status, canonical_status, cast(is_final as boolean) as is_final
    from read_csv('${seeds_dir}/refund_status_map.csv', header = true, all_varchar = true);
create or replace temp table reason_map as
    select lower(trim(source_system)) as source_system, lower(trim(system_name)) as system_name,
           lower(trim(raw_reason)) as raw_reason, gl_reason_code
    from read_csv('${seeds_dir}/refund_reason_map.csv', header = true, all_varchar = true);
create or replace temp table gl_map as
    select lower(trim(gl_account)) as gl_account, canonical_status, refund_scope
    from read_csv('${seeds_dir}/gl_account_map.csv', header = true, all_varchar = true);

-- Storefront: read every column as text (serial reader, as the project's
-- hook), parse each value once, drop bad rows, keep the current row per
-- refund (latest updated_at, else created_at; the later line on a tie).
create or replace temp table sf as
with raw as (
    select row_number() over () as rn, nz(storefront_refund_id) as id, nz(order_id) as order_id,
           nz(processor_refund_id) as pid, coalesce(lower(nz(storefront)), 'generic') as sys,
           upper(nz(currency)) as currency, nz(amount) as amount, nz(status) as status, nz(reason) as reason,
           lower(nz(refund_type)) as refund_type, nz(created_at) as c_txt, nz(updated_at) as u_txt
    from read_csv('${data_dir}/storefront_refunds.csv', header = true, all_varchar = true, null_padding = true,
                  parallel = false, strict_mode = false)
), parsed as (
    select raw.*, cur.minor_units as mu, to_minor(amount, cur.minor_units) as amount_minor,
           ts_utc(c_txt) as created_at, ts_utc(u_txt) as updated_at
    from raw left join currencies as cur using (currency)
), latest as (
    -- One pass: the rule check is a column and the aggregate takes only the
    -- rows that pass it (a WHERE would be pushed below the parsing and parse
    -- every value twice); a refund with no good row has no group left.
    select unnest(arg_max({'id': id, 'order_id': order_id, 'pid': pid, 'sys': sys, 'currency': currency, 'mu': mu,
                           'amount_minor': amount_minor, 'status': status, 'reason': reason, 'refund_type': refund_type,
                           'created_at': created_at}, (coalesce(updated_at, created_at), rn)) filter (where ok))
    from (
        select *, id is not null and order_id is not null and status is not null and amount_minor is not null
                  and c_txt is not null and not bad_ts(c_txt, created_at) and not bad_ts(u_txt, updated_at) as ok
        from parsed)
    group by id having count(*) filter (where ok) > 0
)
select p.*, sm.canonical_status as status_c, rm.gl_reason_code as reason_code,
       p.reason is null or rm.raw_reason is not null as reason_mapped
from latest as p
left join status_map as sm on sm.source_system = 'storefront' and sm.system_name = p.sys and sm.raw_status = lower(p.status)
left join reason_map as rm on rm.source_system = 'storefront' and rm.system_name = p.sys and rm.raw_reason = lower(p.reason);

-- Processor: read, parse once, drop bad rows; per refund in one aggregate:
-- the current event (latest event_at, the later line on a tie), the first
-- created_at, the first final success (confirmed_at), and any order id and
-- reason for a current event that lacks them.
create or replace temp table pr as
with raw as (
    select row_number() over () as rn, nz(processor_refund_id) as id, lower(nz(processor)) as sys,
           nz(order_id) as order_id, upper(nz(currency)) as currency, nz(amount) as amount, nz(status) as status,
           nz(reason) as reason, nz(created_at) as c_txt, nz(event_at) as e_txt
    from read_csv('${data_dir}/processor_refunds.csv', header = true, all_varchar = true, null_padding = true,
                  parallel = false, strict_mode = false)
), events as (
    select raw.*, cur.minor_units as mu, to_minor(amount, cur.minor_units) as amount_minor,
           ts_utc(c_txt) as created_at, ts_utc(e_txt) as event_at, sm.canonical_status as status_c, sm.is_final
    from raw
    left join currencies as cur using (currency)
    left join status_map as sm on sm.source_system = 'processor' and sm.system_name = raw.sys and sm.raw_status = lower(raw.status)
), per_refund as (
    select id, arg_max({'sys': sys, 'order_id': order_id, 'currency': currency, 'mu': mu, 'amount_minor': amount_minor,
                        'status_c': status_c, 'reason': reason}, (event_at, rn)) filter (where ok) as c,
           min(created_at) filter (where ok) as created_at, max(order_id) filter (where ok) as any_order,
           min(event_at) filter (where ok and status_c = 'succeeded' and is_final) as confirmed_at,
           max(reason) filter (where ok) as any_reason
    from (
        -- The rule check as a column, used by every aggregate (see storefront).
        select *, id is not null and sys is not null and status is not null and amount_minor is not null
                  and c_txt is not null and e_txt is not null and not bad_ts(c_txt, created_at) and not bad_ts(e_txt, event_at) as ok
        from events)
    group by id having count(*) filter (where ok) > 0
), flat as (
    select c.sys, coalesce(c.order_id, any_order) as order_id, c.currency, c.mu, c.amount_minor, c.status_c,
           coalesce(c.reason, any_reason) as reason, id, created_at, confirmed_at
    from per_refund
)
select f.id, f.sys, f.order_id, f.currency, f.mu, f.amount_minor, f.status_c, f.reason, f.created_at, f.confirmed_at,
       rm.gl_reason_code as reason_code, f.reason is null or rm.raw_reason is not null as reason_mapped
from flat as f
left join reason_map as rm on rm.source_system = 'processor' and rm.system_name = f.sys and rm.raw_reason = lower(f.reason);

-- ERP: read, parse once, drop bad rows; per document the latest version
-- (received, then posted, then line) with the first receipt; then the role
-- of each document among the postings that carry its processor refund id.
create or replace temp table erp as
with raw as (
    select row_number() over () as rn, nz(erp_document_id) as doc, nz(processor_refund_id) as pid,
           nz(order_id) as order_id, nz(gl_account) as gl_account, upper(nz(currency)) as currency,
           nz(amount) as amount, nz(reason_code) as reason_code, lower(nz(refund_type)) as refund_type,
           nz(posted_at) as p_txt, nz(received_at) as r_txt, nz(posting_period) as period_txt
    from read_csv('${data_dir}/erp_refund_postings.csv', header = true, all_varchar = true, null_padding = true,
                  parallel = false, strict_mode = false)
), parsed as (
    select raw.*, cur.minor_units as mu, to_minor(amount, cur.minor_units) as amount_minor,
           ts_utc(p_txt) as posted_at, ts_utc(r_txt) as received_ts
    from raw left join currencies as cur using (currency)
), checked as (
    select *, coalesce(received_ts, posted_at) as received_at,
           doc is not null and gl_account is not null and amount_minor is not null
           and p_txt is not null and not bad_ts(p_txt, posted_at) and not bad_ts(r_txt, received_ts)
           and (period_txt is null or regexp_full_match(period_txt, '[0-9]{4}-(0[1-9]|1[0-2])')) as ok
    from parsed
), docs as (
    -- The rule check as a column, used by every aggregate (see storefront).
    select unnest(arg_max({'doc': doc, 'pid': pid, 'order_id': order_id, 'gl_account': gl_account, 'currency': currency,
                           'mu': mu, 'amount_minor': amount_minor, 'reason_code': reason_code, 'refund_type': refund_type,
                           'posted_at': posted_at, 'period': coalesce(period_txt, period_of(posted_at))},
                          (received_at, posted_at, rn)) filter (where ok)),
           min(received_at) filter (where ok) as received_at
    from checked group by doc having count(*) filter (where ok) > 0
), mapped as (
    select d.*, g.canonical_status as gl_status, g.refund_scope as gl_scope, g.gl_account is not null as gl_mapped,
           pr.id is not null as linked
    from docs as d
    left join gl_map as g on g.gl_account = lower(d.gl_account)
    left join (select id from pr) as pr on pr.id = d.pid
)
select *, case
    when not linked then 'orphan'
    when gl_status = 'reversed' then 'reversal'
    when row_number() over (partition by pid, linked and coalesce(gl_status, '') <> 'reversed'
                            order by posted_at, received_at, doc) = 1 then 'primary'
    else 'duplicate' end as role
from mapped;

-- The three-way match, one row per refund, and the rules over it: one
-- statement, the match is not materialized.
create or replace temp table variances as
with sf_keyed as (
    select case when pr.id is not null then 'processor' else 'storefront' end as ks,
           coalesce(pr.id, sf.id) as k, sf.*
    from sf left join (select id from pr) as pr on pr.id = sf.pid
), sf_by as (
    -- Per key the first storefront row (created_at, then id) with the key's total amount.
    select ks, k, unnest(arg_min({'id': id, 'order_id': order_id, 'status_c': status_c, 'status': status, 'reason': reason,
                                  'reason_code': reason_code, 'reason_mapped': reason_mapped, 'refund_type': refund_type,
                                  'currency': currency, 'mu': mu, 'created_at': created_at}, (created_at, id))),
           sum(amount_minor) as sf_amount
    from sf_keyed group by ks, k
), erp_keyed as (
    select case when linked then 'processor' else 'erp' end as ks, case when linked then pid else doc end as k, erp.*
    from erp
), erp_agg as (
    select ks, k, count(*) filter (where role = 'duplicate') as dup_n,
           coalesce(sum(amount_minor) filter (where role = 'duplicate'), 0) as dup_amount,
           count(*) filter (where role = 'reversal') as rev_n
    from erp_keyed group by ks, k
), erp_primary as (
    select * from erp_keyed where role in ('primary', 'orphan')
), keys as (
    select 'processor' as ks, id as k from pr
    union all select ks, k from sf_by where ks = 'storefront'
    union all select ks, k from erp_agg where ks = 'erp'
), matched as (
    -- One row per refund: processor key, else storefront key, else ERP document.
    select keys.ks, keys.k, coalesce(pr.order_id, s.order_id, e.order_id) as order_id,
           pr.id is not null as has_p, pr.status_c as p_status, pr.reason as p_reason, pr.reason_code as p_code,
           pr.reason_mapped as p_reason_mapped, pr.currency as p_cur, pr.amount_minor as p_amt, pr.mu as p_mu,
           pr.confirmed_at,
           s.id is not null as has_s, s.id as sf_id, s.status_c as s_status, s.status as s_raw_status,
           s.reason as s_reason, s.reason_code as s_code, s.reason_mapped as s_reason_mapped, s.refund_type as s_type,
           s.currency as s_cur, s.sf_amount as s_amt, s.mu as s_mu, s.created_at as s_created,
           a.k is not null as has_e, e.doc as e_doc, coalesce(a.dup_n, 0) as dup_n, coalesce(a.dup_amount, 0) as dup_amount,
           coalesce(a.rev_n, 0) as rev_n, e.gl_status, e.gl_scope, e.gl_mapped, e.reason_code as e_code, e.refund_type as e_type,
           e.period as e_period, e.currency as e_cur, e.amount_minor as e_amt, e.mu as e_mu, e.received_at as e_received
    from keys
    left join pr on keys.ks = 'processor' and pr.id = keys.k
    left join sf_by as s on s.ks = keys.ks and s.k = keys.k
    left join erp_agg as a on a.ks = keys.ks and a.k = keys.k
    left join erp_primary as e on e.ks = keys.ks and e.k = keys.k
), f as (
    select *,
        coalesce(p_status is not null, false) as known,
        case when rev_n > 0 then 'reversed' when ks = 'processor' and e_doc is not null then gl_status end as e_state,
        case when gl_scope in ('partial', 'full') then gl_scope when e_type in ('partial', 'full') then e_type end as e_scope,
        case when s_reason is not null then s_reason_mapped when p_reason is not null then p_reason_mapped else true end as reason_ok,
        case when s_reason is not null then s_code else p_code end as req_code,
        has_p and e_doc is not null and ks = 'processor' as linked_post,
        p_cur = e_cur as e_cmp, p_cur = s_cur as s_cmp,
        abs(e_amt - p_amt) > cast(${tolerance} as decimal(18, 4)) * pow10(p_mu) as e_diff_raw,
        abs(s_amt - p_amt) > cast(${tolerance} as decimal(18, 4)) * pow10(p_mu) as s_diff_raw,
        confirmed_at is not null and date_diff('second', confirmed_at, timestamp '${as_of}') > ${sla_seconds} as conf_late,
        date_diff('second', s_created, timestamp '${as_of}') > ${sla_seconds} as sf_late,
        date_diff('second', confirmed_at, e_received) > ${sla_seconds} as receipt_late
    from matched
), o as (
    select order_id,
        count(*) filter (where coalesce(p_status, 'x') not in ('failed', 'canceled')) as live_n,
        count(*) filter (where p_status = 'succeeded') as succ_n,
        count(*) filter (where p_status = 'succeeded' and linked_post) as posted_n
    from f where has_p and order_id is not null group by order_id
), g as (
    select f.*,
        case when s_type in ('partial', 'full') then s_type when o.live_n > 1 then 'partial' end as scope,
        coalesce(o.succ_n >= 2 and o.posted_n < o.succ_n, false) as collapsed_order,
        coalesce(linked_post and e_cmp and e_diff_raw, false) as e_diff
    from f left join o using (order_id)
), h as (
    select *, coalesce(collapsed_order and p_status = 'succeeded' and ((not has_e and conf_late) or e_diff), false) as collapsed
    from g
), flags as (
    -- Each rule as a boolean column named type__system.
    select *,
        known and p_status = 'succeeded' and not has_e and conf_late and not collapsed as missing_in_erp__erp,
        has_p and not has_s and coalesce(p_status, 'x') not in ('failed', 'canceled') as missing_in_storefront__storefront,
        ks = 'storefront' and coalesce(s_status, 'x') not in ('failed', 'canceled') and sf_late as missing_at_processor__processor,
        ks = 'erp' as orphan_erp_posting__erp,
        e_diff and not collapsed as amount_mismatch__erp,
        has_p and has_s and s_cmp and s_diff_raw as amount_mismatch__storefront,
        linked_post and not e_cmp as currency_mismatch__erp,
        has_p and has_s and not s_cmp as currency_mismatch__storefront,
        known and e_state is not null and (
            (p_status = 'succeeded' and (e_state <> 'succeeded' or coalesce(scope <> e_scope, false)))
            or (p_status in ('pending', 'requested') and e_state <> 'pending')
            or (p_status in ('failed', 'canceled') and e_state <> 'reversed')) as status_mismatch__erp,
        known and collapsed as partial_refund_collapsed__erp,
        ks = 'processor' and dup_n > 0 as duplicate_erp_posting__erp,
        known and p_status = 'succeeded' and linked_post and receipt_late as confirmation_lag__erp,
        known and p_status = 'succeeded' and linked_post
            and confirmed_at is not null and e_period <> period_of(confirmed_at) as wrong_period__erp,
        has_p and not known as unmapped_status__processor,
        has_s and s_status is null as unmapped_status__storefront,
        e_doc is not null and not gl_mapped as unmapped_status__erp,
        has_s and not s_reason_mapped as unmapped_reason__storefront,
        has_p and not p_reason_mapped as unmapped_reason__processor,
        linked_post and reason_ok and req_code is not null and coalesce(upper(e_code), '') <> upper(req_code) as reason_mismatch__erp
    from h
), hit_rows as (
    -- About 1% of refunds have a variance: only those go on to the list of hits.
    select * from flags where coalesce(
        missing_in_erp__erp
        or missing_in_storefront__storefront
        or missing_at_processor__processor
        or orphan_erp_posting__erp
        or amount_mismatch__erp
        or amount_mismatch__storefront
        or currency_mismatch__erp
        or currency_mismatch__storefront
        or status_mismatch__erp
        or partial_refund_collapsed__erp
        or duplicate_erp_posting__erp
        or confirmation_lag__erp
        or wrong_period__erp
        or unmapped_status__processor
        or unmapped_status__storefront
        or unmapped_status__erp
        or unmapped_reason__storefront
        or unmapped_reason__processor
        or reason_mismatch__erp, false)
), hits as (
    select unnest([
        struct_pack(t := 'missing_in_erp', s := 'erp', hit := missing_in_erp__erp),
        struct_pack(t := 'missing_in_storefront', s := 'storefront', hit := missing_in_storefront__storefront),
        struct_pack(t := 'missing_at_processor', s := 'processor', hit := missing_at_processor__processor),
        struct_pack(t := 'orphan_erp_posting', s := 'erp', hit := orphan_erp_posting__erp),
        struct_pack(t := 'amount_mismatch', s := 'erp', hit := amount_mismatch__erp),
        struct_pack(t := 'amount_mismatch', s := 'storefront', hit := amount_mismatch__storefront),
        struct_pack(t := 'currency_mismatch', s := 'erp', hit := currency_mismatch__erp),
        struct_pack(t := 'currency_mismatch', s := 'storefront', hit := currency_mismatch__storefront),
        struct_pack(t := 'status_mismatch', s := 'erp', hit := status_mismatch__erp),
        struct_pack(t := 'partial_refund_collapsed', s := 'erp', hit := partial_refund_collapsed__erp),
        struct_pack(t := 'duplicate_erp_posting', s := 'erp', hit := duplicate_erp_posting__erp),
        struct_pack(t := 'confirmation_lag', s := 'erp', hit := confirmation_lag__erp),
        struct_pack(t := 'wrong_period', s := 'erp', hit := wrong_period__erp),
        struct_pack(t := 'unmapped_status', s := 'processor', hit := unmapped_status__processor),
        struct_pack(t := 'unmapped_status', s := 'storefront', hit := unmapped_status__storefront),
        struct_pack(t := 'unmapped_status', s := 'erp', hit := unmapped_status__erp),
        struct_pack(t := 'unmapped_reason', s := 'storefront', hit := unmapped_reason__storefront),
        struct_pack(t := 'unmapped_reason', s := 'processor', hit := unmapped_reason__processor),
        struct_pack(t := 'reason_mismatch', s := 'erp', hit := reason_mismatch__erp)
    ]) as r, *
    from hit_rows
)
select k as refund_id, r.t as variance_type, r.s as discrepancy_system,
    case
        when r.t = 'duplicate_erp_posting' then major(dup_amount, e_mu)
        when r.t = 'currency_mismatch' then null
        when r.s = 'processor' then case when has_p and not s_cmp then null
            else major(coalesce(p_amt, 0) - coalesce(s_amt, 0), coalesce(p_mu, s_mu, e_mu)) end
        when r.s = 'storefront' then case when has_s and not s_cmp then null
            else major(coalesce(s_amt, 0) - coalesce(p_amt, 0), coalesce(p_mu, s_mu, e_mu)) end
        when e_doc is not null and not e_cmp then null
        else major(coalesce(e_amt, 0) - coalesce(p_amt, 0), coalesce(p_mu, s_mu, e_mu))
    end as amount_delta,
    case when r.t = 'duplicate_erp_posting' then e_cur else coalesce(p_cur, s_cur, e_cur) end as currency
from hits
where coalesce(r.hit, false);
