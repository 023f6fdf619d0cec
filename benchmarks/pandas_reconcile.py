"""The same reconciliation in pandas: what a user would otherwise write.

Reads the three generic inputs (CSV) and the project's mapping seeds, applies
the same rules, and returns the variances (refund_id, variance_type,
discrepancy_system, amount_delta, currency). scripts/benchmark.py times it
against the dbt project; tests/python/test_benchmark_paths.py checks it gives
the same variances.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

AMOUNT = r"[0-9]{1,15}(\.[0-9]+)?"


def text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    values = frame[column].astype("string").str.strip()
    return values.mask(values == "")


def parse_ts(values: pd.Series) -> pd.Series:
    iso = values.str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?"
                               r"( ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?))?)?").fillna(False)
    parsed = pd.to_datetime(values.where(iso).str.replace(",", ".", regex=False), utc=True, format="ISO8601",
                            errors="coerce")
    return parsed.dt.tz_convert("UTC").dt.tz_localize(None)


def to_minor(amount: pd.Series, minor_units: pd.Series) -> pd.Series:
    """Exact integer minor units, or NA where the text is not a valid amount for the currency."""
    valid = amount.str.fullmatch(AMOUNT).fillna(False) & minor_units.notna()
    whole = amount.where(valid).str.split(".", n=1).str[0]
    fraction = amount.where(valid).str.split(".", n=1).str[1].fillna("").str.rstrip("0")
    units = minor_units.fillna(0).astype(int)
    valid &= fraction.str.len().fillna(0) <= units
    padded = [f.ljust(u, "0") if isinstance(f, str) else "" for f, u in zip(fraction, units)]
    minor = pd.Series(pd.NA, index=amount.index, dtype="Int64")
    ok = valid.to_numpy()
    whole_int = pd.to_numeric(whole[ok], errors="coerce").astype("Int64")
    frac_int = pd.to_numeric(pd.Series(np.array(padded, dtype=object)[ok], index=whole[ok].index).replace("", "0"),
                             errors="coerce").astype("Int64")
    minor[ok] = whole_int * (10 ** units[ok]).astype("Int64") + frac_int
    return minor


def read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    frame["rn"] = np.arange(len(frame))
    return frame


def reconcile(data_dir: Path, seeds_dir: Path, as_of: str, sla_minutes: int = 30, tolerance: str = "0",
              timezone: str = "UTC") -> pd.DataFrame:
    as_of_ts = pd.Timestamp(as_of.replace("Z", "")).tz_localize(None)
    future = as_of_ts + pd.Timedelta(days=1)
    sla = pd.Timedelta(minutes=sla_minutes)
    tol = Decimal(tolerance)

    currencies = pd.read_csv(seeds_dir / "currencies.csv", dtype={"currency": str, "minor_units": int})
    mu_of = dict(zip(currencies["currency"], currencies["minor_units"]))
    status_map = pd.read_csv(seeds_dir / "refund_status_map.csv", dtype=str)
    for column in ("source_system", "system_name", "raw_status"):
        status_map[column] = status_map[column].str.strip().str.lower()
    status_map["is_final"] = status_map["is_final"].str.lower() == "true"
    reason_map = pd.read_csv(seeds_dir / "refund_reason_map.csv", dtype=str)
    for column in ("source_system", "system_name", "raw_reason"):
        reason_map[column] = reason_map[column].str.strip().str.lower()
    gl_map = pd.read_csv(seeds_dir / "gl_account_map.csv", dtype=str)
    gl_map["gl_key"] = gl_map["gl_account"].str.strip().str.lower()

    def money(frame: pd.DataFrame) -> None:
        frame["currency"] = text(frame, "currency").str.upper()
        frame["amount"] = text(frame, "amount")
        frame["mu"] = frame["currency"].map(mu_of).astype("Int64")
        frame["amount_minor"] = to_minor(frame["amount"], frame["mu"])

    def bad_ts(raw: pd.Series, parsed: pd.Series) -> pd.Series:
        return (raw.notna() & parsed.isna()) | (parsed > future).fillna(False)

    def map_status(frame: pd.DataFrame, system: str, key: str) -> pd.DataFrame:
        mapping = status_map[status_map["source_system"] == system][["system_name", "raw_status", "canonical_status", "is_final"]]
        frame = frame.assign(_raw=frame["status"].str.lower())
        return frame.merge(mapping, how="left", left_on=[key, "_raw"], right_on=["system_name", "raw_status"]) \
            .drop(columns=["_raw", "system_name", "raw_status"])

    def map_reason(frame: pd.DataFrame, system: str, key: str) -> pd.DataFrame:
        mapping = reason_map[reason_map["source_system"] == system][["system_name", "raw_reason", "gl_reason_code"]]
        frame = frame.assign(_raw=frame["reason"].str.lower())
        merged = frame.merge(mapping, how="left", left_on=[key, "_raw"], right_on=["system_name", "raw_reason"])
        merged["reason_mapped"] = merged["reason"].isna() | merged["raw_reason"].notna()
        return merged.drop(columns=["_raw", "system_name", "raw_reason"])

    # Storefront
    sf = read(data_dir / "storefront_refunds.csv")
    for column in ("storefront_refund_id", "order_id", "processor_refund_id", "status", "reason"):
        sf[column] = text(sf, column)
    sf["sys"] = text(sf, "storefront").str.lower().fillna("generic")
    sf["refund_type"] = text(sf, "refund_type").str.lower()
    money(sf)
    sf["c_txt"], sf["u_txt"] = text(sf, "created_at"), text(sf, "updated_at")
    sf["created_at"], sf["updated_at"] = parse_ts(sf["c_txt"]), parse_ts(sf["u_txt"])
    good = (sf["storefront_refund_id"].notna() & sf["order_id"].notna() & sf["status"].notna()
            & sf["amount_minor"].notna() & sf["c_txt"].notna()
            & ~bad_ts(sf["c_txt"], sf["created_at"]) & ~bad_ts(sf["u_txt"], sf["updated_at"]))
    sf = sf[good.to_numpy()].copy()
    sf["recorded"] = sf["updated_at"].fillna(sf["created_at"])
    sf = sf.sort_values(["recorded", "rn"]).drop_duplicates("storefront_refund_id", keep="last")
    sf = map_reason(map_status(sf, "storefront", "sys"), "storefront", "sys")

    # Processor
    pr = read(data_dir / "processor_refunds.csv")
    for column in ("processor_refund_id", "order_id", "status", "reason"):
        pr[column] = text(pr, column)
    pr["sys"] = text(pr, "processor").str.lower()
    money(pr)
    pr["c_txt"], pr["e_txt"] = text(pr, "created_at"), text(pr, "event_at")
    pr["created_at"], pr["event_at"] = parse_ts(pr["c_txt"]), parse_ts(pr["e_txt"])
    good = (pr["processor_refund_id"].notna() & pr["sys"].notna() & pr["status"].notna() & pr["amount_minor"].notna()
            & pr["c_txt"].notna() & pr["e_txt"].notna()
            & ~bad_ts(pr["c_txt"], pr["created_at"]) & ~bad_ts(pr["e_txt"], pr["event_at"]))
    pr = map_status(pr[good.to_numpy()].copy(), "processor", "sys")
    succeeded = pr[(pr["canonical_status"] == "succeeded") & (pr["is_final"] == True)]  # noqa: E712
    history = pd.DataFrame({
        "created_at": pr.groupby("processor_refund_id")["created_at"].min(),
        "any_order": pr.groupby("processor_refund_id")["order_id"].max(),
        "any_reason": pr.groupby("processor_refund_id")["reason"].max(),
        "confirmed_at": succeeded.groupby("processor_refund_id")["event_at"].min(),
    })
    current = pr.sort_values(["event_at", "rn"]).drop_duplicates("processor_refund_id", keep="last")
    current = current.drop(columns=["created_at"]).join(history, on="processor_refund_id")
    current["order_id"] = current["order_id"].fillna(current["any_order"])
    current["reason"] = current["reason"].fillna(current["any_reason"])
    pr = map_reason(current, "processor", "sys")
    known_ids = set(pr["processor_refund_id"])

    # ERP
    erp = read(data_dir / "erp_refund_postings.csv")
    for column in ("erp_document_id", "processor_refund_id", "order_id", "gl_account", "reason_code", "posting_period"):
        erp[column] = text(erp, column)
    erp["refund_type"] = text(erp, "refund_type").str.lower()
    money(erp)
    erp["p_txt"], erp["r_txt"] = text(erp, "posted_at"), text(erp, "received_at")
    erp["posted_at"], erp["r_parsed"] = parse_ts(erp["p_txt"]), parse_ts(erp["r_txt"])
    erp["received_at"] = erp["r_parsed"].fillna(erp["posted_at"])
    period_ok = erp["posting_period"].isna() | erp["posting_period"].str.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])").fillna(False)
    good = (erp["erp_document_id"].notna() & erp["gl_account"].notna() & erp["amount_minor"].notna()
            & erp["p_txt"].notna() & ~bad_ts(erp["p_txt"], erp["posted_at"]) & ~bad_ts(erp["r_txt"], erp["r_parsed"])
            & period_ok)
    erp = erp[good.to_numpy()].copy()
    local = erp["posted_at"].dt.tz_localize("UTC").dt.tz_convert(timezone)
    erp["period"] = erp["posting_period"].fillna(local.dt.strftime("%Y-%m"))
    first_received = erp.groupby("erp_document_id")["received_at"].min()
    erp = erp.sort_values(["received_at", "posted_at", "rn"]).drop_duplicates("erp_document_id", keep="last")
    erp["received_at"] = erp["erp_document_id"].map(first_received)
    erp["gl_key"] = erp["gl_account"].str.lower()
    erp = erp.merge(gl_map[["gl_key", "canonical_status", "refund_scope"]], how="left", on="gl_key")
    erp = erp.rename(columns={"canonical_status": "gl_status", "refund_scope": "gl_scope"})
    erp["gl_mapped"] = erp["gl_status"].notna()
    erp["linked"] = erp["processor_refund_id"].isin(known_ids)
    erp = erp.sort_values(["posted_at", "received_at", "erp_document_id"])
    booking = erp["linked"] & (erp["gl_status"].fillna("") != "reversed")
    erp["booking_rank"] = erp[booking].groupby("processor_refund_id").cumcount() + 1
    erp["role"] = np.select(
        [~erp["linked"], erp["gl_status"] == "reversed", erp["booking_rank"] == 1],
        ["orphan", "reversal", "primary"], "duplicate")

    # Match
    sf["ks"] = np.where(sf["processor_refund_id"].isin(known_ids), "processor", "storefront")
    sf["k"] = np.where(sf["ks"] == "processor", sf["processor_refund_id"], sf["storefront_refund_id"])
    sf = sf.sort_values(["created_at", "storefront_refund_id"])
    sf["s_amt"] = sf.groupby(["ks", "k"])["amount_minor"].transform("sum")
    sf_by = sf.drop_duplicates(["ks", "k"], keep="first")
    erp["ks"] = np.where(erp["linked"], "processor", "erp")
    erp["k"] = np.where(erp["linked"], erp["processor_refund_id"], erp["erp_document_id"])
    dup = erp[erp["role"] == "duplicate"].groupby(["ks", "k"]).agg(dup_n=("k", "size"), dup_amount=("amount_minor", "sum"))
    rev = erp[erp["role"] == "reversal"].groupby(["ks", "k"]).size().rename("rev_n")
    has_e = erp.groupby(["ks", "k"]).size().rename("e_n")
    primary = erp[erp["role"].isin(["primary", "orphan"])].set_index(["ks", "k"])

    keys = pd.concat([
        pd.DataFrame({"ks": "processor", "k": pr["processor_refund_id"]}),
        sf_by.loc[sf_by["ks"] == "storefront", ["ks", "k"]],
        erp.loc[erp["ks"] == "erp", ["ks", "k"]].drop_duplicates(),
    ], ignore_index=True)
    p = pr.assign(ks="processor", k=pr["processor_refund_id"]).set_index(["ks", "k"]).add_prefix("p_")
    s = sf_by.set_index(["ks", "k"]).add_prefix("s_")
    e = primary.add_prefix("e_")
    m = keys.set_index(["ks", "k"]).join(p).join(s).join(e).join(dup).join(rev).join(has_e).reset_index()
    m["has_p"], m["has_s"], m["has_e"] = m["p_processor_refund_id"].notna(), m["s_storefront_refund_id"].notna(), m["e_n"].notna()
    m["dup_n"], m["dup_amount"], m["rev_n"] = m["dup_n"].fillna(0), m["dup_amount"].fillna(0), m["rev_n"].fillna(0)
    m["order_id"] = m["p_order_id"].fillna(m["s_order_id"]).fillna(m["e_order_id"])

    # Rules
    p_status = m["p_canonical_status"]
    known = p_status.notna()
    m["e_state"] = np.where(m["rev_n"] > 0, "reversed",
                            np.where((m["ks"] == "processor") & m["e_erp_document_id"].notna(), m["e_gl_status"], None))
    e_scope = m["e_gl_scope"].where(m["e_gl_scope"].isin(["partial", "full"]),
                                    m["e_refund_type"].where(m["e_refund_type"].isin(["partial", "full"])))
    s_reason = m["s_reason"].notna()
    reason_ok = np.where(s_reason, m["s_reason_mapped"], np.where(m["p_reason"].notna(), m["p_reason_mapped"], True))
    req_code = m["s_gl_reason_code"].where(s_reason, m["p_gl_reason_code"])
    linked_post = m["has_p"] & m["e_erp_document_id"].notna() & (m["ks"] == "processor")
    e_cmp = (m["p_currency"] == m["e_currency"]).fillna(False)
    s_cmp = (m["p_currency"] == m["s_currency"]).fillna(False)
    scale = (10 ** m["p_mu"].fillna(0).astype(int)).astype(float)
    tol_minor = float(tol) * scale
    e_diff_raw = ((m["e_amount_minor"] - m["p_amount_minor"]).abs() > tol_minor).fillna(False)
    s_diff_raw = ((m["s_s_amt"] - m["p_amount_minor"]).abs() > tol_minor).fillna(False)
    conf_late = m["p_confirmed_at"].notna() & ((as_of_ts - m["p_confirmed_at"]) > sla).fillna(False)
    sf_late = ((as_of_ts - m["s_created_at"]) > sla).fillna(False)
    receipt_late = ((m["e_received_at"] - m["p_confirmed_at"]) > sla).fillna(False)

    orders = m[m["has_p"] & m["order_id"].notna()].assign(
        live=~p_status.isin(["failed", "canceled"]), succ=p_status == "succeeded",
        posted=(p_status == "succeeded") & linked_post)
    orders = orders.groupby("order_id").agg(live_n=("live", "sum"), succ_n=("succ", "sum"), posted_n=("posted", "sum"))
    m = m.join(orders, on="order_id")
    scope = m["s_refund_type"].where(m["s_refund_type"].isin(["partial", "full"]),
                                     np.where(m["live_n"] > 1, "partial", None))
    collapsed_order = ((m["succ_n"] >= 2) & (m["posted_n"] < m["succ_n"])).fillna(False)
    e_diff = linked_post & e_cmp & e_diff_raw
    collapsed = collapsed_order & (p_status == "succeeded") & ((~m["has_e"] & conf_late) | e_diff)
    e_state = m["e_state"]
    confirmed_local = m["p_confirmed_at"].dt.tz_localize("UTC").dt.tz_convert(timezone).dt.strftime("%Y-%m")
    scope_differs = (pd.Series(scope, index=m.index) != e_scope) & pd.Series(scope, index=m.index).notna() & e_scope.notna()

    rules = [
        ("missing_in_erp", "erp", known & (p_status == "succeeded") & ~m["has_e"] & conf_late & ~collapsed),
        ("missing_in_storefront", "storefront", m["has_p"] & ~m["has_s"] & ~p_status.isin(["failed", "canceled"])),
        ("missing_at_processor", "processor", (m["ks"] == "storefront") & ~m["s_canonical_status"].isin(["failed", "canceled"]) & sf_late),
        ("orphan_erp_posting", "erp", m["ks"] == "erp"),
        ("amount_mismatch", "erp", e_diff & ~collapsed),
        ("amount_mismatch", "storefront", m["has_p"] & m["has_s"] & s_cmp & s_diff_raw),
        ("currency_mismatch", "erp", linked_post & ~e_cmp),
        ("currency_mismatch", "storefront", m["has_p"] & m["has_s"] & ~s_cmp),
        ("status_mismatch", "erp", known & pd.Series(e_state).notna() & (
            ((p_status == "succeeded") & ((e_state != "succeeded") | scope_differs))
            | (p_status.isin(["pending", "requested"]) & (e_state != "pending"))
            | (p_status.isin(["failed", "canceled"]) & (e_state != "reversed")))),
        ("partial_refund_collapsed", "erp", known & collapsed),
        ("duplicate_erp_posting", "erp", (m["ks"] == "processor") & (m["dup_n"] > 0)),
        ("confirmation_lag", "erp", known & (p_status == "succeeded") & linked_post & receipt_late),
        ("wrong_period", "erp", known & (p_status == "succeeded") & linked_post & m["p_confirmed_at"].notna()
         & (m["e_period"] != confirmed_local)),
        ("unmapped_status", "processor", m["has_p"] & ~known),
        ("unmapped_status", "storefront", m["has_s"] & m["s_canonical_status"].isna()),
        ("unmapped_status", "erp", m["e_erp_document_id"].notna() & ~m["e_gl_mapped"].fillna(True).astype(bool)),
        ("unmapped_reason", "storefront", m["has_s"] & ~m["s_reason_mapped"].fillna(True).astype(bool)),
        ("unmapped_reason", "processor", m["has_p"] & ~m["p_reason_mapped"].fillna(True).astype(bool)),
        ("reason_mismatch", "erp", linked_post & pd.Series(reason_ok, index=m.index).astype(bool) & req_code.notna()
         & (m["e_reason_code"].fillna("").str.upper() != req_code.fillna("").str.upper())),
    ]
    found = []
    for variance_type, system, flag in rules:
        rows = m[flag.fillna(False).astype(bool).to_numpy()]
        found.append(pd.DataFrame({"refund_id": rows["k"], "variance_type": variance_type, "discrepancy_system": system,
                                   "_row": rows.index}))
    variances = pd.concat(found, ignore_index=True)
    rows = m.loc[variances["_row"]].reset_index(drop=True)
    mu = rows["p_mu"].fillna(rows["s_mu"]).fillna(rows["e_mu"])
    p_amt, s_amt, e_amt = rows["p_amount_minor"].fillna(0), rows["s_s_amt"].fillna(0), rows["e_amount_minor"].fillna(0)
    delta = np.select(
        [variances["variance_type"] == "duplicate_erp_posting", variances["variance_type"] == "currency_mismatch",
         variances["discrepancy_system"] == "processor", variances["discrepancy_system"] == "storefront"],
        [rows["dup_amount"], np.nan, p_amt - s_amt, s_amt - p_amt], e_amt - p_amt).astype(object)
    def differs(left: pd.Series, right: pd.Series) -> pd.Series:
        return (left.notna() & right.notna() & (left != right)).fillna(False).astype(bool)

    not_comparable = np.select(
        [variances["discrepancy_system"] == "processor", variances["discrepancy_system"] == "storefront"],
        [differs(rows["p_currency"], rows["s_currency"]), differs(rows["p_currency"], rows["s_currency"])],
        differs(rows["p_currency"], rows["e_currency"]))
    units = np.where(variances["variance_type"] == "duplicate_erp_posting", rows["e_mu"], mu)
    variances["amount_delta"] = [
        None if (pd.isna(d) or (bad and t != "duplicate_erp_posting")) else Decimal(int(d)).scaleb(-int(u))
        for d, bad, u, t in zip(delta, not_comparable, units, variances["variance_type"])]
    variances["currency"] = np.where(variances["variance_type"] == "duplicate_erp_posting", rows["e_currency"],
                                     rows["p_currency"].fillna(rows["s_currency"]).fillna(rows["e_currency"]))
    return variances.drop(columns=["_row"])
