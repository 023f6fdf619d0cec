"""The project's metadata, checked from dbt's own artifacts on a built scenario.

One `dbt docs generate` on the labelled scenario the session already builds
(conftest.labelled_build): its manifest says what the YAML declares, its
catalog what the built database holds. Every model, seed and source is
described; every column the database holds is declared with a description;
every source table has freshness; every model has a primary-key test; marts
are public, in a group, with contracts; descriptions cite files that exist;
the exposures and the semantic layer are there, and each measure of the
semantic layer, run as SQL on the database, gives the figure computed from
the mart in Python.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import PROJECT_DIR, Build
from recon_runner.dbt import dbt_argv, dbt_env

REPORT_MARTS = ["fct_checkpoint_runs", "fct_refund_variances", "rpt_refund_reconciliation", "fct_rejected_rows",
                "fct_variance_history", "fct_refund_audit_trail", "fct_checkpoint_totals",
                "fct_proposed_erp_corrections", "fct_suggested_matches", "fct_variance_acknowledgements"]
CONTRACTED_MARTS = ["fct_refund_variances", "rpt_refund_reconciliation"]
AGE_BUCKETS_OVER_30 = {"31-60 days", "61-90 days", "over 90 days"}


@dataclass
class Artifacts:
    manifest: dict
    catalog: dict
    build: Build

    def models(self, enabled: bool = True) -> list[dict]:
        if enabled:
            return [node for node in self.manifest["nodes"].values() if node["resource_type"] == "model"]
        return [node for versions in self.manifest["disabled"].values() for node in versions
                if node["resource_type"] == "model"]

    def sources(self, enabled: bool = True) -> list[dict]:
        if enabled:
            return list(self.manifest["sources"].values())
        return [node for versions in self.manifest["disabled"].values() for node in versions
                if node["resource_type"] == "source"]

    def model(self, name: str) -> dict:
        return self.manifest["nodes"][f"model.refund_recon.{name}"]

    def query(self, sql: str) -> pd.DataFrame:
        """Rows as Python values (decimals stay Decimal, never float)."""
        with duckdb.connect(str(self.build.database), read_only=True) as con:
            cursor = con.execute(sql)
            columns = [column[0] for column in cursor.description]
            return pd.DataFrame(cursor.fetchall(), columns=columns, dtype=object)


@pytest.fixture(scope="module")
def artifacts(labelled_build: Build, tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    """`dbt docs generate` over a copy of the labelled build's database (dbt opens it
    for writing, which would lock out the tests reading the shared one), in a folder of its own."""
    folder = tmp_path_factory.mktemp("docs")
    shutil.copyfile(labelled_build.database, folder / "recon.duckdb")
    argv = dbt_argv("generate", dbt_vars=labelled_build.settings, artifacts=folder)
    argv.insert(argv.index("generate"), "docs")
    result = subprocess.run(argv, cwd=PROJECT_DIR, env=dbt_env(folder / "recon.duckdb"), text=True,
                            capture_output=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    target = folder / "target"
    return Artifacts(json.loads((target / "manifest.json").read_text()),
                     json.loads((target / "catalog.json").read_text()), labelled_build)


def test_every_model_seed_and_source_is_described(artifacts: Artifacts) -> None:
    missing = [node["unique_id"] for node in artifacts.manifest["nodes"].values()
               if node["resource_type"] in ("model", "seed", "snapshot") and not node["description"].strip()]
    missing += [node["unique_id"] for node in artifacts.models(enabled=False) if not node["description"].strip()]
    for source in artifacts.sources() + artifacts.sources(enabled=False):
        if not source["description"].strip():
            missing.append(source["unique_id"])
        if not source["source_description"].strip():
            missing.append(f"source {source['source_name']}")
    assert not missing, f"no description: {sorted(set(missing))}"
    assert len(artifacts.models()) >= 20 and len(artifacts.sources()) == 3


def test_every_built_column_is_declared_with_a_description(artifacts: Artifacts) -> None:
    """Every column the database holds, in every model, seed and source of the catalog."""
    offenders, checked = [], 0
    for kind in ("nodes", "sources"):
        for unique_id, table in artifacts.catalog[kind].items():
            declared = artifacts.manifest[kind][unique_id]["columns"]
            for column in table["columns"]:
                checked += 1
                entry = declared.get(column) or declared.get(column.lower())
                if entry is None:
                    offenders.append(f"{unique_id}.{column} (not declared)")
                elif not entry["description"].strip():
                    offenders.append(f"{unique_id}.{column} (no description)")
    assert not offenders, "\n".join(offenders)
    assert checked > 350


def test_every_source_declares_its_columns_and_freshness(artifacts: Artifacts) -> None:
    offenders = []
    for source in artifacts.sources() + artifacts.sources(enabled=False):
        name = f"{source['source_name']}.{source['name']}"
        if not source["columns"]:
            offenders.append(f"{name}: no columns declared")
        freshness = source.get("freshness") or {}
        counts = [(freshness.get(level) or {}).get("count") for level in ("warn_after", "error_after")]
        exempt = str(source["config"].get("meta", {}).get("freshness_exempt") or "").strip()
        if all(counts):
            assert counts[0] < counts[1], name
            if not source.get("loaded_at_field"):
                offenders.append(f"{name}: freshness without loaded_at_field")
        elif not exempt:
            offenders.append(f"{name}: no freshness (warn_after and error_after) and no freshness_exempt reason")
    assert not offenders, "\n".join(offenders)
    # The three inputs of the default (generic) shape are all checked for freshness.
    for source in artifacts.sources():
        assert source["freshness"]["warn_after"]["count"] and source["loaded_at_field"], source["unique_id"]


def test_disabled_shape_models_declare_the_columns_their_input_has(artifacts: Artifacts) -> None:
    """A base model of another system emits the generic base model's columns:
    it declares the same ones, described (the catalog only holds enabled shapes)."""
    built = {node["name"]: set(artifacts.catalog["nodes"][node["unique_id"]]["columns"])
             for node in artifacts.models() if node["unique_id"] in artifacts.catalog["nodes"]}
    offenders, checked = [], 0
    for node in artifacts.models(enabled=False):
        match = re.fullmatch(r"base_[a-z0-9]+__(.+)", node["name"])
        generic = f"base_generic__{match.group(1)}" if match else None
        if generic not in built:
            continue
        checked += 1
        declared = {name for name, column in node["columns"].items() if column["description"].strip()}
        if declared != built[generic]:
            offenders.append(f"{node['name']}: missing {sorted(built[generic] - declared)}, "
                             f"extra {sorted(declared - built[generic])}")
    assert not offenders, "\n".join(offenders)
    assert checked >= 6


def primary_key_tests(manifest: dict) -> dict[str, list[tuple[str, str | None]]]:
    """model id -> [(test name, column)] for unique and not_null tests, and column_values tests
    (tests/generic/column_values.sql), which cannot be declared without a key."""
    found: dict[str, list[tuple[str, str | None]]] = {}
    for node in manifest["nodes"].values():
        name = (node.get("test_metadata") or {}).get("name")
        if node["resource_type"] == "test" and name in ("unique", "not_null", "column_values") and node.get("attached_node"):
            found.setdefault(node["attached_node"], []).append((name, node.get("column_name")))
    return found


def test_every_model_has_a_primary_key_test(artifacts: Artifacts) -> None:
    tests = primary_key_tests(artifacts.manifest)
    offenders = []
    for model in artifacts.models():
        found = tests.get(model["unique_id"], [])
        unique = {column for name, column in found if name == "unique"}
        not_null = {column for name, column in found if name == "not_null"}
        has_key = bool(unique & not_null) or any(name == "column_values" for name, _ in found)
        exempt = str(model["config"].get("meta", {}).get("primary_key_exempt") or "").strip()
        if not has_key and not exempt:
            offenders.append(model["name"])
    assert not offenders, f"models without a primary-key test (unique + not_null, or column_values' keys): {offenders}"
    exempted = [model["name"] for model in artifacts.models() if model["config"].get("meta", {}).get("primary_key_exempt")]
    assert len(exempted) <= 2, exempted


def test_marts_are_public_grouped_and_contracted(artifacts: Artifacts) -> None:
    groups = artifacts.manifest["groups"]
    assert groups, "no group"
    for group in groups.values():
        assert group["owner"].get("name") and group["owner"].get("email"), group["name"]
    offenders = []
    for model in artifacts.models():
        is_mart = model["original_file_path"].startswith("models/marts/")
        want = "public" if is_mart else "protected"
        if model["access"] != want:
            offenders.append(f"{model['name']}: access {model['access']}, want {want}")
        if f"group.refund_recon.{model['group']}" not in groups:
            offenders.append(f"{model['name']}: group {model['group']!r} is not defined")
        if is_mart and model["config"]["contract"]["enforced"]:
            untyped = [name for name, column in model["columns"].items() if not column.get("data_type")]
            if untyped:
                offenders.append(f"{model['name']}: contract without data types on {untyped}")
    for name in CONTRACTED_MARTS:
        if not artifacts.model(name)["config"]["contract"]["enforced"]:
            offenders.append(f"{name}: contract not enforced")
    assert not offenders, "\n".join(offenders)
    public = [model["name"] for model in artifacts.models() if model["access"] == "public"]
    assert {"fct_refund_variances", "rpt_refund_reconciliation", "fct_checkpoint_runs"} <= set(public)


def described_things(manifest: dict):
    for kind in ("nodes", "sources", "exposures", "metrics", "semantic_models"):
        for unique_id, node in manifest[kind].items():
            yield unique_id, node.get("description") or ""
            for column, entry in (node.get("columns") or {}).items():
                yield f"{unique_id}.{column}", entry.get("description") or ""


def test_descriptions_cite_files_that_exist(artifacts: Artifacts) -> None:
    """A description that names a Markdown file names it by a path in the repository."""
    offenders, cited = [], set()
    for unique_id, text in described_things(artifacts.manifest):
        for path in re.findall(r"[\w./-]*\w\.md\b", text):
            cited.add(path)
            if not (PROJECT_DIR / path).is_file():
                offenders.append(f"{unique_id}: {path}")
    assert not offenders, "descriptions cite files not in the repository:\n" + "\n".join(offenders)
    assert {"docs/spec/contracts.md", "docs/spec/variance-rules.md"} <= cited


def test_exposures_name_what_the_report_and_the_dashboard_read(artifacts: Artifacts) -> None:
    exposures = {node["name"]: node for node in artifacts.manifest["exposures"].values()}
    report, dashboard = exposures["checkpoint_report"], exposures["refund_reconciliation_dashboard"]
    built = {model["name"] for model in artifacts.models()}
    want = {f"model.refund_recon.{name}" for name in REPORT_MARTS if name in built}
    assert set(report["depends_on"]["nodes"]) == want
    assert report["type"] in ("application", "analysis") and dashboard["type"] == "dashboard"
    assert {"model.refund_recon.fct_refund_variances", "metric.refund_recon.amount_at_stake"} <= set(
        dashboard["depends_on"]["nodes"])
    for exposure in (report, dashboard):
        assert exposure["owner"]["email"] and exposure["description"].strip(), exposure["name"]


# --- the semantic layer --------------------------------------------------------------------------

def money(value) -> Decimal | None:
    return None if value is None or pd.isna(value) else Decimal(str(value))


def oracle(frame: pd.DataFrame, measure: str):
    """Each measure, computed from the mart's rows in Python (exact decimals)."""
    if measure in ("open_variances", "checkpoints"):
        return len(frame)
    if measure == "amount_at_stake":
        return sum((value for value in map(money, frame["amount_at_stake"]) if value is not None), Decimal(0))
    if measure in ("variance_currencies", "checkpoint_total_currencies"):
        return frame["currency"].nunique()
    if measure == "refunds_with_variances":
        return frame["refund_key"].nunique()
    if measure == "checkpoint_total_amount":
        return sum((value for value in map(money, frame["amount"]) if value is not None), Decimal(0))
    if measure == "checkpoint_record_count":
        return int(sum(value for value in frame["record_count"] if value is not None and not pd.isna(value)))
    if measure == "checkpoint_total_unvalued_variances":   # a row from before the column: all unknown
        return int(sum(count if pd.isna(unvalued) else unvalued
                       for count, unvalued in zip(frame["record_count"], frame["unvalued_variance_count"])))
    columns = {"checkpoint_open_variances": "open_variance_count", "checkpoint_new_variances": "new_variance_count",
               "checkpoint_resolved_variances": "resolved_variance_count", "checkpoint_rows_rejected": "rows_rejected"}
    if measure in columns:
        return int(frame[columns[measure]].sum())
    raise KeyError(f"no Python oracle for measure {measure}: add one to test_metadata.oracle")


def exact(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return 0
    return Decimal(str(value)) if not isinstance(value, int) else value


def test_semantic_models_and_metrics_are_declared(artifacts: Artifacts) -> None:
    semantic = {node["name"]: node for node in artifacts.manifest["semantic_models"].values()}
    metrics = {node["name"]: node for node in artifacts.manifest["metrics"].values()}
    assert {"refund_variances", "checkpoint_runs"} <= set(semantic)
    assert {"open_variances", "amount_at_stake", "refunds_with_variances", "checkpoints",
            "checkpoint_open_variances", "share_of_variances_over_30_days"} <= set(metrics)
    assert {metric["type"] for metric in metrics.values()} >= {"simple", "ratio", "derived"}
    variances = semantic["refund_variances"]
    dimensions = {dimension["name"]: dimension["type"] for dimension in variances["dimensions"]}
    assert dimensions == {**dimensions, "variance_type": "categorical", "discrepancy_system": "categorical",
                          "currency": "categorical", "age_bucket": "categorical", "posting_period": "categorical",
                          "refund_date": "time", "as_of": "time"}
    assert {entity["name"] for entity in variances["entities"]} == {"variance", "refund", "checkpoint"}
    spine = [model for model in artifacts.models() if model.get("time_spine")]
    assert [model["name"] for model in spine] == ["metricflow_time_spine"]
    for node in list(semantic.values()) + list(metrics.values()):
        assert node["description"].strip(), node["name"]


def test_each_measure_run_as_sql_equals_the_figure_from_the_mart(artifacts: Artifacts) -> None:
    """Each measure's agg(expr), grouped by each categorical dimension of its
    semantic model, on the built database; against the same figure from the
    mart's rows in Python."""
    sql_agg = {"count": "count({})", "sum": "sum({})", "count_distinct": "count(distinct {})"}
    compared = 0
    for semantic in artifacts.manifest["semantic_models"].values():
        relation = semantic["node_relation"]["relation_name"]
        mart = artifacts.query(f"select * from {relation}")
        assert len(mart) > 0, relation
        dimensions = [(dimension["name"], dimension.get("expr") or dimension["name"])
                      for dimension in semantic["dimensions"] if dimension["type"] == "categorical"]
        for measure in semantic["measures"]:
            total = artifacts.query(f"select {sql_agg[measure['agg']].format(measure['expr'])} as value from {relation}")
            assert exact(total["value"][0]) == oracle(mart, measure["name"]), measure["name"]
            for name, expr in dimensions:
                got = artifacts.query(f"""
                    select cast({expr} as varchar) as dim, {sql_agg[measure['agg']].format(measure['expr'])} as value
                    from {relation} group by 1""")
                got = {row.dim: exact(row.value) for row in got.itertuples()}
                keys = mart[expr].astype("string").fillna("<null>") if expr in mart else None
                if keys is not None and set(keys) <= {"True", "False", "<null>"}:  # SQL casts a boolean to 'true'
                    keys = keys.replace({"True": "true", "False": "false"})
                assert keys is not None, f"{semantic['name']}.{name}: expression {expr} is not a mart column"
                want = {key: oracle(group, measure["name"]) for key, group in mart.groupby(keys)}
                got = {("<null>" if key is None else key): value for key, value in got.items()}
                assert got == want, f"{semantic['name']}.{measure['name']} by {name}"
                compared += 1
    assert compared >= 20


def metric_filter(artifacts: Artifacts, name: str) -> str:
    """A metric's filter as SQL on its mart: {{ Dimension('entity__dimension') }} -> the column."""
    metric = next(node for node in artifacts.manifest["metrics"].values() if node["name"] == name)
    # A guarded money metric carries the filter on its inputs (the same on each).
    filters = [metric["filter"]] if metric.get("filter") else [
        item["filter"] for item in metric["type_params"]["metrics"] if item.get("filter")]
    assert filters and all(item == filters[0] for item in filters), name
    where = " and ".join(item["where_sql_template"] for item in filters[0]["where_filters"])
    columns = {"measure_name": "measure"}
    return re.sub(r"\{\{\s*Dimension\('\w+?__(\w+)'\)\s*\}\}",
                  lambda match: columns.get(match.group(1), match.group(1)), where)


def test_amount_at_stake_per_currency_and_the_age_filter(artifacts: Artifacts) -> None:
    """The headline figures: amount at stake per currency, exact at the currency's
    exponent; the over-30-days metric's filter counts refunds older than 30 days."""
    mart = artifacts.query("select * from fct_refund_variances")
    per_currency = artifacts.query(
        "select currency, sum(abs(amount_delta)) as amount from fct_refund_variances group by currency")
    for row in per_currency.itertuples():
        rows = mart[mart["currency"] == row.currency]
        want = sum((abs(money(value)) for value in rows["amount_delta"] if money(value) is not None), Decimal(0))
        assert exact(row.amount) == want, row.currency
        exponent = int(rows["minor_units"].iloc[0])
        assert want == want.quantize(Decimal(1).scaleb(-exponent)), (row.currency, want)
    over_30 = metric_filter(artifacts, "open_variances_over_30_days")
    got = artifacts.query(f"select count(*) as n from fct_refund_variances where {over_30}")["n"][0]
    assert got == int((mart["age_days"] > 30).sum())
    assert set(mart.loc[mart["age_days"] > 30, "age_bucket"]) <= AGE_BUCKETS_OVER_30
    # The per-checkpoint metric over fct_checkpoint_totals gives the mart's money at stake
    # (amount_at_stake per variance type, as fct_variance_history records it).
    trend = artifacts.query(f"""
        select currency, sum(amount) as amount from fct_checkpoint_totals
        where {metric_filter(artifacts, 'amount_at_stake_per_checkpoint')}
            and as_of = (select max(as_of) from fct_refund_variances)
        group by currency""")
    at_stake = artifacts.query("select currency, sum(amount_at_stake) as amount from fct_refund_variances group by 1")
    assert {row.currency: exact(row.amount) for row in trend.itertuples()} == {
        row.currency: exact(row.amount) for row in at_stake.itertuples()}
    spine = artifacts.query("select min(date_day) as first_day, max(date_day) as last_day, count(*) as n "
                            "from metricflow_time_spine")
    assert spine["first_day"][0] <= mart["refund_date"].min() and mart["refund_date"].max() <= spine["last_day"][0]
    assert spine["n"][0] == (spine["last_day"][0] - spine["first_day"][0]).days + 1
