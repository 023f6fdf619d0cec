"""Money metrics never add currencies, and the saved queries answer the
questions every analyst asks: checked on the semantic manifest `dbt parse`
writes (target/semantic_manifest.json), with the pinned requirements only.

MetricFlow can neither require a group-by nor hide a metric, so every money
metric is derived and guarded: `case when <currencies> = 1 then <sum> end`,
where <currencies> counts the distinct currencies of the same rows (same
filter) as <sum>. Grouped by currency the guard is 1 and the sum is the
answer; over two currencies it is null, never EUR + JPY. The unguarded sums
MetricFlow derives from are metrics marked `meta.money: building_block`.

Checked by hand with MetricFlow itself (dbt-metricflow is not in
requirements.txt), on 2026-12-06, in a throwaway virtualenv:
    python3 -m venv /tmp/ms/mfvenv && /tmp/ms/mfvenv/bin/pip install \
        dbt-metricflow==0.15.0 dbt-duckdb==1.11.1 dbt-core==1.11.16
    scripts/checkpoint.py run --as-of 2026-03-01T00:00:00Z --database /tmp/ms/s.duckdb --no-bi
    REFUND_RECON_DUCKDB=/tmp/ms/s.duckdb dbt parse, then from the project root:
    mf validate-configs                         -> 0 errors, 0 warnings (6 checks, semantics and warehouse)
    mf query --saved-query open_money_at_stake_by_currency_and_type   -> 42 rows, one per type x currency
    mf query --saved-query aging_buckets_by_type                      -> 62 rows, one per bucket x type x currency
    mf query --saved-query daily_new_vs_resolved                      -> 2026-03-01: 112 new, 0 resolved
    mf query --metrics amount_at_stake,open_variances                 -> amount_at_stake empty (null), 112
    mf query --metrics amount_at_stake,open_variances --group-by variance__currency
        -> USD 12886.9 / 58, JPY 163615 / 6, GBP 2957.69 / 19, KWD 962.237 / 4, EUR 4872.45 / 25
    mf query --metrics amount_at_stake --where "{{ Dimension('variance__currency') }} = 'JPY'" -> 163615
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import PROJECT_DIR
from recon_runner.dbt import dbt_argv, dbt_env

SAVED_QUERIES = {"open_money_at_stake_by_currency_and_type", "aging_buckets_by_type", "daily_new_vs_resolved",
                 "open_vs_acknowledged_by_currency"}
MONEY_AGGS = {"sum", "average", "min", "max", "median", "percentile"}
# `case when <currencies> = 1 then <sum> end`; further `and <count> = 0` conditions only make
# it null more often (amount_at_stake_per_checkpoint: no variance without a recorded stake).
GUARD = re.compile(r"^\s*case\s+when\s+(\w+)\s*=\s*1(?:\s+and\s+\w+\s*=\s*0)*\s+then\s+(\w+)\s+end\s*$",
                   re.IGNORECASE)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("parse")
    result = subprocess.run(dbt_argv("parse", artifacts=folder), cwd=PROJECT_DIR,
                            env=dbt_env(folder / "parse.duckdb"), text=True, capture_output=True,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(Path(folder / "target" / "semantic_manifest.json").read_text())


def measures(manifest: dict) -> dict[str, dict]:
    return {measure["name"]: {**measure, "model": model["name"]}
            for model in manifest["semantic_models"] for measure in model["measures"]}


def is_money(measure: dict) -> bool:
    """A measure that adds amounts: a sum (or average, ...) of an amount column."""
    return measure["agg"] in MONEY_AGGS and "amount" in (measure.get("expr") or measure["name"])


def counts_currencies(measure: dict) -> bool:
    return measure["agg"] == "count_distinct" and (measure.get("expr") or "").strip() == "currency"


def filters(reference: dict) -> list[str]:
    return sorted(item["where_sql_template"].strip() for item in (reference.get("filter") or {}).get(
        "where_filters", []))


def money_metrics(manifest: dict) -> dict[str, dict]:
    """Every metric whose figure is (or is built from) a money measure."""
    by_name = {metric["name"]: metric for metric in manifest["metrics"]}
    money = {name: measure for name, measure in measures(manifest).items() if is_money(measure)}

    def adds_money(metric: dict) -> bool:
        params = metric["type_params"]
        if params.get("measure") and params["measure"]["name"] in money:
            return True
        inputs = (params.get("metrics") or []) + [params[key] for key in ("numerator", "denominator")
                                                   if params.get(key)]
        return any(adds_money(by_name[item["name"]]) for item in inputs)

    return {name: metric for name, metric in by_name.items() if adds_money(metric)}


def guarded(metric: dict, manifest: dict) -> bool:
    """Derived `case when <currency count> = 1 then <sum> end` over the same
    rows; or arithmetic (no coalesce) on guarded money metrics only."""
    by_name = {item["name"]: item for item in manifest["metrics"]}
    money = money_metrics(manifest)
    all_measures = measures(manifest)
    params = metric["type_params"]
    if metric["type"] != "derived":
        return False
    inputs = {item.get("alias") or item["name"]: item for item in params["metrics"]}
    match = GUARD.match(params["expr"])
    if match:
        guard, amount = (inputs.get(match.group(1)), inputs.get(match.group(2)))
        if guard is None or amount is None:
            return False
        guard_params = by_name[guard["name"]]["type_params"]
        guard_measure = all_measures.get((guard_params.get("measure") or {}).get("name"))
        amount_measure = all_measures.get((by_name[amount["name"]]["type_params"].get("measure") or {}).get("name"))
        return (guard_measure is not None and counts_currencies(guard_measure) and amount_measure is not None
                and guard_measure["model"] == amount_measure["model"] and filters(guard) == filters(amount)
                and not filters(by_name[guard["name"]]) and not filters(by_name[amount["name"]]))
    return "coalesce" not in params["expr"].lower() and all(
        guarded(by_name[item["name"]], manifest) for item in params["metrics"] if item["name"] in money)


def test_every_money_metric_is_guarded_by_its_currency(manifest: dict) -> None:
    money = money_metrics(manifest)
    assert {"amount_at_stake", "average_amount_at_stake", "amount_at_stake_per_checkpoint",
            "refund_total_per_checkpoint"} <= set(money)
    users = {name: [metric["name"] for metric in manifest["metrics"] if metric["type"] == "derived"
                    and name in {item["name"] for item in metric["type_params"]["metrics"]}] for name in money}
    unguarded = []
    for name, metric in money.items():
        kind = ((metric.get("config") or {}).get("meta") or {}).get("money")
        if kind == "building_block":
            # Only an input of guarded metrics, and says so.
            if not users[name] or not all(guarded(money[user], manifest) for user in users[name]) \
                    or "Do not query it" not in metric["description"]:
                unguarded.append(f"{name}: building block used by {users[name]}")
        elif not (kind == "guarded_by_currency" and guarded(metric, manifest)):
            unguarded.append(name)
    assert not unguarded, "money metrics that can add currencies: " + ", ".join(unguarded)


def test_saved_queries_group_money_by_currency(manifest: dict) -> None:
    saved = {query["name"]: query for query in manifest["saved_queries"]}
    assert SAVED_QUERIES <= set(saved)
    money = money_metrics(manifest)
    metrics = {metric["name"] for metric in manifest["metrics"]}
    dimensions = {f"{entity['name']}__{dimension['name']}" for model in manifest["semantic_models"]
                  for entity in model["entities"] if entity["type"] == "primary"
                  for dimension in model["dimensions"]}
    for name in SAVED_QUERIES:
        params = saved[name]["query_params"]
        assert set(params["metrics"]) <= metrics and params["group_by"], name
        grouped = [re.search(r"'([\w]+)'", item).group(1) for item in params["group_by"]]
        assert all(item in dimensions or item == "metric_time" for item in grouped), (name, grouped)
        if set(params["metrics"]) & set(money):
            assert any(item.endswith("__currency") for item in grouped), name
    assert "Dimension('variance__variance_type')" in saved["open_money_at_stake_by_currency_and_type"][
        "query_params"]["group_by"]
    assert {"Dimension('variance__age_bucket')", "Dimension('variance__variance_type')"} <= set(
        saved["aging_buckets_by_type"]["query_params"]["group_by"])
    assert set(saved["daily_new_vs_resolved"]["query_params"]["metrics"]) == {
        "checkpoint_new_variances", "checkpoint_resolved_variances"}
    assert saved["daily_new_vs_resolved"]["query_params"]["group_by"] == ["TimeDimension('metric_time', 'day')"]
    assert "Dimension('variance__is_acknowledged')" in saved["open_vs_acknowledged_by_currency"]["query_params"][
        "group_by"]
