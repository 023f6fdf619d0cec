"""dbt-project-evaluator's whole rule set (dbt Labs), checked over target/manifest.json.

The package cannot be downloaded in CI, so each of its 29 rules is reimplemented here as one
function, from the package's own SQL and its default vars (dbt_project.yml of the package).
The comment on each function names the package file it follows; the graph it reads is the
package's int_all_graph_resources (one row per resource, with its model type) and
int_all_dag_relationships (every path between two resources, with its distance).

A finding is fixed in the project, or listed in tests/dag_rule_exceptions.csv (rule, resource,
reason), the package's dbt_project_evaluator_exceptions seed. An exception that no longer
matches a finding fails the test. Each rule is also run on a small synthetic manifest on which
it must fire, so a rule that can never fire is caught.

And one house rule, stricter than the package (issue 29): marts_dependent_on_staging, a mart
reads no staging or base model (int_input_rows stacks the staged input rows once for them).

The manifest is parsed with every shape enabled, so every base model is checked.

Run: nice -n 19 .venv/bin/pytest -q tests/python/test_dag_rules.py
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from conftest import PROJECT_DIR
from recon_runner.dbt import run_dbt

ALL_SHAPES = {"storefront_shapes": ["generic", "shopify"],
              "processor_shapes": ["generic", "stripe", "adyen", "paypal", "square"],
              "erp_shapes": ["generic", "netsuite"]}

EXCEPTIONS_FILE = PROJECT_DIR / "tests" / "dag_rule_exceptions.csv"

# The package's default vars (dbt-project-evaluator dbt_project.yml), with one override: this
# project's own model-rules test `column_values` (tests/generic/column_values.sql, which cannot be
# declared without its keys, each unique and not null) is a primary-key
# test like dbt_utils.unique_combination_of_columns, declared the way the package's docs say
# (docs/customization/overriding-variables.md: primary_key_test_macros).
VARS = {
    "documentation_coverage_target": 100,
    "test_coverage_target": 100,
    "primary_key_test_macros": [["dbt.test_unique", "dbt.test_not_null"],
                                ["dbt_utils.test_unique_combination_of_columns"],
                                ["refund_recon.test_column_values"]],
    "enforced_primary_key_node_types": ["model"],
    "models_fanout_threshold": 3,
    "too_many_joins_threshold": 7,
    "model_types": ["base", "staging", "intermediate", "marts", "other"],
    "folders": {"base": "base", "staging": "staging", "intermediate": "intermediate", "marts": "marts"},
    "prefixes": {"base": ["base_"], "staging": ["stg_"], "intermediate": ["int_"], "marts": ["fct_", "dim_"],
                 "other": ["rpt_"]},
    "chained_views_threshold": 5,
    "comment_chars": ["--"],
}

UNTYPED = ("test", "source", "metric", "exposure", "seed")


# --- The graph: int_all_graph_resources and int_all_dag_relationships -------------------------

@dataclass
class Resource:
    """One row of int_all_graph_resources (models/marts/core/int_all_graph_resources.sql)."""
    uid: str
    name: str  # resource_name: source_name.name for a source, name.vN for a versioned model
    resource_type: str
    file_path: str
    raw: dict
    model_type: str | None = None
    model_type_folder: str | None = None
    prefix: str | None = None

    @property
    def directory_path(self) -> str:
        return self.file_path[: self.file_path.rfind("/") + 1]

    @property
    def materialized(self) -> str | None:
        return (self.raw.get("config") or {}).get("materialized")

    @property
    def is_public(self) -> bool:
        return self.raw.get("access") == "public"

    @property
    def is_described(self) -> bool:  # is_not_empty_string(description): Jinja truthiness
        return bool(self.raw.get("description"))


@dataclass
class DagPath:
    """One row of int_all_dag_relationships (macros/recursive_dag.sql): a path parent -> child."""
    parent: Resource
    child: Resource
    distance: int
    names: tuple[str, ...]
    chain_of_views: bool | None


@dataclass
class Graph:
    resources: dict[str, Resource]
    parents: dict[str, list[str]]  # direct parents of each resource (int_direct_relationships)
    tests: list[Resource]
    paths: list[DagPath] = field(default_factory=list)

    def by_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.resource_type in types]

    def edges(self) -> list[DagPath]:
        return [p for p in self.paths if p.distance == 1]


def model_type_of(name: str, file_path: str, resource_type: str) -> tuple[str | None, str | None, str | None]:
    """(model_type, model_type_folder, prefix): the prefix decides, else the folder nearest the
    file, else 'other' (int_all_graph_resources: calculate_model_type)."""
    if resource_type == "source":
        return None, None, None
    prefix = name.split("_")[0] + "_"
    if resource_type in UNTYPED:
        return None, None, prefix
    by_prefix = next((kind for kind in VARS["model_types"] if prefix in VARS["prefixes"].get(kind, [])), None)
    directory = file_path[: file_path.rfind("/") + 1]
    positions = [(directory.find(f"/{folder}/") + 1, kind) for kind, folder in VARS["folders"].items()]
    position, kind = max(positions, key=lambda item: item[0])
    by_folder = kind if position > 0 else None
    return by_prefix or by_folder or "other", by_folder, prefix


def build_graph(manifest: dict) -> Graph:
    resources: dict[str, Resource] = {}
    parents: dict[str, list[str]] = {}
    tests: list[Resource] = []
    for uid, node in manifest["nodes"].items():
        if node["package_name"] == "dbt_project_evaluator" or not node.get("config", {}).get("enabled", True):
            continue
        name = f"{node['name']}.v{node['version']}" if node.get("version") not in (None, "") else node["name"]
        res = Resource(uid, name, node["resource_type"], node["original_file_path"], node)
        res.model_type, res.model_type_folder, res.prefix = model_type_of(node["name"], res.file_path,
                                                                          res.resource_type)
        resources[uid] = res
        parents[uid] = list(dict.fromkeys((node.get("depends_on") or {}).get("nodes", [])))
        if res.resource_type == "test":
            tests.append(res)
    for uid, source in manifest["sources"].items():
        if source.get("config", {}).get("enabled", True) is False:
            continue
        resources[uid] = Resource(uid, f"{source['source_name']}.{source['name']}", "source",
                                  source["original_file_path"], source)
        parents[uid] = []
    for kind in ("exposures", "metrics"):
        for uid, item in manifest.get(kind, {}).items():
            resources[uid] = Resource(uid, item["name"], item["resource_type"], item["original_file_path"], item)
            parents[uid] = list(dict.fromkeys((item.get("depends_on") or {}).get("nodes", [])))
    graph = Graph(resources, parents, tests)

    # The DAG leaves tests out (recursive_dag: resource_type <> 'test'); one path per route.
    children: dict[str, list[str]] = defaultdict(list)
    for uid, ups in parents.items():
        if resources[uid].resource_type == "test":
            continue
        for up in ups:
            children[up].append(uid)

    def walk(anchor: Resource, end: Resource, distance: int, names: tuple[str, ...], chain: bool | None) -> None:
        graph.paths.append(DagPath(anchor, end, distance, names, chain))
        for child_uid in children.get(end.uid, []):
            child = resources[child_uid]
            step = end.materialized in ("view", "ephemeral") and (True if chain is None else chain)
            walk(anchor, child, distance + 1, (*names, child.name), step)

    for res in resources.values():
        if res.resource_type != "test":
            walk(res, res, 0, (res.name,), None)
    return graph


def like_contains(text: str, needle: str) -> bool:
    """SQL `text like '%' || needle || '%'`: `_` in the needle is any one character."""
    pattern = ".*".join(".".join(re.escape(part) for part in piece.split("_")) for piece in needle.split("%"))
    return re.search(pattern, text, re.S) is not None


Findings = dict[str, str]  # resource (the package's resource_name, or "parent -> child") -> detail


# --- dag/ --------------------------------------------------------------------------------------

def rule_direct_join_to_source(g: Graph) -> Findings:
    """models/marts/dag/fct_direct_join_to_source.sql: a model with both a model and a source parent."""
    found: Findings = {}
    by_child: dict[str, list[DagPath]] = defaultdict(list)
    for edge in g.edges():
        if edge.child.resource_type == "model":
            by_child[edge.child.name].append(edge)
    for child, edges in by_child.items():
        types = {e.parent.resource_type for e in edges}
        if {"model", "source"} <= types:
            found[child] = ", ".join(sorted(e.parent.name for e in edges))
    return found


def rule_duplicate_sources(g: Graph) -> Findings:
    """models/marts/dag/fct_duplicate_sources.sql: two source nodes for one database location."""
    where: dict[str, list[str]] = defaultdict(list)
    for src in g.by_type("source"):
        raw = src.raw
        location = (f"{raw['schema']}.{raw['identifier']}" if raw.get("database") is None
                    else f"{raw['database']}.{raw['schema']}.{raw['identifier']}")
        where[location].append(src.name)
    return {location: ", ".join(sorted(names)) for location, names in where.items() if len(names) > 1}


# macros/find_all_hard_coded_references.sql: the five patterns, as written there.
_NOT_AFTER_DISTINCT = r"(?<!distinct\s)"
_QUOTE_OPEN = r"([\[`\"']?)"
_QUOTE_CLOSE = r"([\]`\"']?)"
_PART = r"(\w+-?\w*)"
HARD_CODED_PATTERNS = [
    re.compile(_NOT_AFTER_DISTINCT + r"(from|join)\s+({{\s*var\s*\(\s*['\"]?)([^)'\"]+)(['\"]?\s*)(\)\s*}})",
               re.I),
    re.compile(_NOT_AFTER_DISTINCT + r"(from|join)\s+({{\s*var\s*\(\s*['\"]?)([^)'\"]+)(['\"]?\s*)(,)"
               r"(\s*['\"]?)([^)'\"]+)(['\"]?\s*)(\)\s*}})", re.I),
    re.compile(_NOT_AFTER_DISTINCT + r"(from|join)\s+" + _QUOTE_OPEN + _PART + _QUOTE_CLOSE + r"(\.)"
               + _QUOTE_OPEN + _PART + _QUOTE_CLOSE + r"(?=\s|$)", re.I),
    re.compile(_NOT_AFTER_DISTINCT + r"(from|join)\s+" + _QUOTE_OPEN + _PART + _QUOTE_CLOSE + r"(\.)"
               + _QUOTE_OPEN + _PART + _QUOTE_CLOSE + r"(\.)" + _QUOTE_OPEN + _PART + _QUOTE_CLOSE + r"(?=\s|$)",
               re.I),
    re.compile(_NOT_AFTER_DISTINCT + r"(from|join)\s+([\[`\"'])(\w+-?\w+)([\]`\"'])(?=\s|$)", re.I),
]


def hard_coded_references(raw_code: str) -> list[str]:
    without_comments = re.sub("(" + "|".join(VARS["comment_chars"]) + ").*", "", raw_code)
    found = {"".join(match[1:]).strip() for pattern in HARD_CODED_PATTERNS
             for match in pattern.findall(without_comments)}
    return sorted(found)


def rule_hard_coded_references(g: Graph) -> Findings:
    """models/marts/dag/fct_hard_coded_references.sql (macros/find_all_hard_coded_references.sql):
    a SQL model that reads a table by name or by var() instead of ref()/source()."""
    found: Findings = {}
    for model in g.by_type("model"):
        if model.raw.get("language") == "sql":
            refs = hard_coded_references(model.raw.get("raw_code") or "")
            if refs:
                found[model.name] = ", ".join(refs)
    return found


def rule_marts_or_intermediate_dependent_on_source(g: Graph) -> Findings:
    """models/marts/dag/fct_marts_or_intermediate_dependent_on_source.sql."""
    return {f"{e.parent.name} -> {e.child.name}": e.child.model_type or "" for e in g.edges()
            if e.parent.resource_type == "source" and e.child.model_type in ("marts", "intermediate")}


def rule_model_fanout(g: Graph) -> Findings:
    """models/marts/dag/fct_model_fanout.sql: a resource with models_fanout_threshold or more
    direct children that are models with no children at all (leaves)."""
    has_children = {p.parent.uid for p in g.paths if p.distance > 0}
    leaves = {r.uid for r in g.by_type("model") if r.uid not in has_children}
    leaf_children: dict[str, set[str]] = defaultdict(set)
    for e in g.edges():
        if e.child.resource_type == "model" and e.child.uid in leaves:
            leaf_children[e.parent.name].add(e.child.name)
    return {parent: ", ".join(sorted(kids)) for parent, kids in leaf_children.items()
            if len(kids) >= VARS["models_fanout_threshold"]}


def rule_multiple_sources_joined(g: Graph) -> Findings:
    """models/marts/dag/fct_multiple_sources_joined.sql: a resource that reads more than one source."""
    sources: dict[str, set[str]] = defaultdict(set)
    for e in g.edges():
        if e.parent.resource_type == "source":
            sources[e.child.name].add(e.parent.name)
    return {child: ", ".join(sorted(names)) for child, names in sources.items() if len(names) > 1}


def rule_rejoining_of_upstream_concepts(g: Graph) -> Findings:
    """models/marts/dag/fct_rejoining_of_upstream_concepts.sql: parent -> middle -> child and
    parent -> child, where the middle has no direct child but `child`."""
    paths = [p for p in g.paths if p.parent.resource_type not in ("exposure", "metric")
             and p.child.resource_type not in ("exposure", "metric")]
    distances: dict[tuple[str, str], set[int]] = defaultdict(set)
    direct_children: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        distances[(p.parent.uid, p.child.uid)].add(p.distance)
        if p.distance == 1:
            direct_children[p.parent.uid].append(p.child.uid)
    found: Findings = {}
    for (parent, child), ds in distances.items():
        if 1 in ds and 2 in ds:
            for middle in direct_children[parent]:
                if child in direct_children[middle] and len(direct_children[middle]) == 1:
                    r = g.resources
                    found[f"{r[parent].name} -> {r[middle].name} -> {r[child].name}"] = ""
    return found


def rule_root_models(g: Graph) -> Findings:
    """models/marts/dag/fct_root_models.sql: a model with no parent (MetricFlow time spines aside)."""
    with_parents = {p.child.uid for p in g.paths if p.distance > 0}
    return {m.name: "" for m in g.by_type("model")
            if m.uid not in with_parents and m.raw.get("time_spine") is None}


def rule_source_fanout(g: Graph) -> Findings:
    """models/marts/dag/fct_source_fanout.sql: a source read by more than one model."""
    readers: dict[str, set[str]] = defaultdict(set)
    for e in g.edges():
        if e.parent.resource_type == "source" and e.child.resource_type == "model":
            readers[e.parent.name].add(e.child.name)
    return {src: ", ".join(sorted(kids)) for src, kids in readers.items() if len(kids) > 1}


def rule_staging_dependent_on_marts_or_intermediate(g: Graph) -> Findings:
    """models/marts/dag/fct_staging_dependent_on_marts_or_intermediate.sql."""
    return {f"{e.parent.name} -> {e.child.name}": "" for e in g.edges()
            if e.parent.resource_type == "model" and e.child.resource_type == "model"
            and e.child.model_type == "staging" and e.parent.model_type in ("marts", "intermediate")}


def rule_staging_dependent_on_staging(g: Graph) -> Findings:
    """models/marts/dag/fct_staging_dependent_on_staging.sql (base_ models are their own type)."""
    return {f"{e.parent.name} -> {e.child.name}": "" for e in g.edges()
            if e.parent.resource_type in ("model", "snapshot") and e.child.resource_type in ("model", "snapshot")
            and e.parent.model_type == "staging" and e.child.model_type == "staging"}


def rule_too_many_joins(g: Graph) -> Findings:
    """models/marts/dag/fct_too_many_joins.sql: a model with too_many_joins_threshold or more
    distinct direct parents (models, sources, seeds)."""
    ups: dict[str, set[str]] = defaultdict(set)
    for e in g.edges():
        if e.child.resource_type == "model":
            ups[e.child.name].add(e.parent.uid)
    return {child: str(len(p)) for child, p in ups.items() if len(p) >= VARS["too_many_joins_threshold"]}


def rule_unused_sources(g: Graph) -> Findings:
    """models/marts/dag/fct_unused_sources.sql: a source nothing reads (tests aside)."""
    used = {p.parent.uid for p in g.paths if p.distance > 0}
    return {s.name: "" for s in g.by_type("source") if s.uid not in used}


# --- documentation/ ----------------------------------------------------------------------------

def rule_documentation_coverage(g: Graph) -> Findings:
    """models/marts/documentation/fct_documentation_coverage.sql and its test
    valid_documentation_coverage (documentation_coverage_pct >= documentation_coverage_target):
    below the target, each undescribed model is a finding."""
    models = g.by_type("model")
    described = [m for m in models if m.is_described]
    pct = round(100.0 * len(described) / len(models), 2) if models else 100.0
    if pct >= VARS["documentation_coverage_target"]:
        return {}
    return {m.name: f"coverage {pct}%" for m in models if not m.is_described}


def rule_undocumented_models(g: Graph) -> Findings:
    """models/marts/documentation/fct_undocumented_models.sql."""
    return {m.name: m.model_type or "" for m in g.by_type("model") if not m.is_described}


def rule_undocumented_source_tables(g: Graph) -> Findings:
    """models/marts/documentation/fct_undocumented_source_tables.sql."""
    return {s.name: "" for s in g.by_type("source") if not s.is_described}


def rule_undocumented_sources(g: Graph) -> Findings:
    """models/marts/documentation/fct_undocumented_sources.sql: a source without source_description."""
    return {s.raw["source_name"]: "" for s in g.by_type("source") if not s.raw.get("source_description")}


# --- governance/ -------------------------------------------------------------------------------

def rule_exposures_dependent_on_private_models(g: Graph) -> Findings:
    """models/marts/governance/fct_exposures_dependent_on_private_models.sql: an exposure reads
    anything but a public model."""
    return {f"{e.parent.name} -> {e.child.name}": e.parent.raw.get("access") or e.parent.resource_type
            for e in g.edges() if e.child.resource_type == "exposure"
            and not (e.parent.resource_type == "model" and e.parent.is_public)}


def rule_public_models_without_contract(g: Graph) -> Findings:
    """models/marts/governance/fct_public_models_without_contract.sql."""
    return {r.name: "" for r in g.resources.values()
            if r.is_public and not ((r.raw.get("contract") or {}).get("enforced"))}


def rule_undocumented_public_models(g: Graph) -> Findings:
    """models/marts/governance/fct_undocumented_public_models.sql: a public model without a
    description, without columns, or with a column without a description."""
    found: Findings = {}
    for r in g.resources.values():
        if not r.is_public:
            continue
        columns = list((r.raw.get("columns") or {}).values())
        undescribed = sorted(c["name"] for c in columns if not c.get("description"))
        if not r.is_described or undescribed or not columns:
            found[r.name] = ", ".join(undescribed) or ("no columns" if not columns else "no description")
    return found


# --- performance/ ------------------------------------------------------------------------------

def rule_chained_views_dependencies(g: Graph) -> Findings:
    """models/marts/performance/fct_chained_views_dependencies.sql: a model at the end of more than
    chained_views_threshold views or ephemeral models."""
    return {" -> ".join(p.names): str(p.distance) for p in g.paths
            if p.distance > VARS["chained_views_threshold"] and p.chain_of_views
            and p.child.resource_type == "model"}


def rule_exposure_parents_materializations(g: Graph) -> Findings:
    """models/marts/performance/fct_exposure_parents_materializations.sql: an exposure reads a
    source, a view or an ephemeral model."""
    return {f"{e.parent.name} -> {e.child.name}": e.parent.materialized or e.parent.resource_type
            for e in g.edges() if e.child.resource_type == "exposure"
            and (e.parent.resource_type == "source"
                 or (e.parent.resource_type == "model" and e.parent.materialized in ("view", "ephemeral")))}


# --- structure/ --------------------------------------------------------------------------------

def rule_model_directories(g: Graph) -> Findings:
    """models/marts/structure/fct_model_directories.sql: a staging model outside a folder named
    after each source upstream of it; any other model whose type (by prefix) is not the type of
    the folder nearest its file."""
    found: Findings = {}
    for p in g.paths:
        if (p.parent.resource_type == "source" and p.child.resource_type == "model"
                and p.child.model_type == "staging" and not like_contains(p.child.directory_path, p.parent.raw["source_name"])):
            found[f"{p.child.name} ({p.parent.raw['source_name']})"] = p.child.file_path
    for r in g.resources.values():
        if r.model_type and r.model_type_folder and r.model_type != r.model_type_folder:
            found[r.name] = f"{r.model_type} in a {r.model_type_folder} folder: {r.file_path}"
    return found


def rule_model_naming_conventions(g: Graph) -> Findings:
    """models/marts/structure/fct_model_naming_conventions.sql: a model whose prefix is not one of
    its type's (MetricFlow time spines aside)."""
    return {m.name: f"{m.model_type}: {' or '.join(VARS['prefixes'].get(m.model_type, [])) or 'no prefix'}"
            for m in g.by_type("model") if m.raw.get("time_spine") is None
            and m.prefix not in VARS["prefixes"].get(m.model_type or "", [])}


def rule_source_directories(g: Graph) -> Findings:
    """models/marts/structure/fct_source_directories.sql: a source declared outside a folder
    named after it."""
    return {s.name: s.file_path for s in g.by_type("source") if not like_contains(s.directory_path, s.raw["source_name"])}


def rule_test_directories(g: Graph) -> Findings:
    """models/marts/structure/fct_test_directories.sql: a generic test declared in another folder
    than the model it tests."""
    found: Findings = {}
    for test in g.tests:
        if not test.raw.get("test_metadata"):
            continue
        model = g.resources.get(primary_parent(test) or "")
        if model and model.resource_type == "model" and model.directory_path != test.directory_path:
            found[f"{test.name} ({model.name})"] = f"{test.directory_path} -> {model.directory_path}"
    return found


# --- tests/ ------------------------------------------------------------------------------------

def primary_parent(test: Resource) -> str | None:
    """macros/unpack/get_relationship_values.sql: the attached node, else the last dependency."""
    ups = (test.raw.get("depends_on") or {}).get("nodes", [])
    return test.raw.get("attached_node") or (ups[-1] if ups else None)


def model_test_summary(g: Graph) -> dict[str, tuple[bool, int]]:
    """models/marts/tests/intermediate/int_model_test_summary.sql: per resource,
    (is_primary_key_tested, number_of_tests_on_model)."""
    groups: dict[tuple[str, str | None], list[Resource]] = defaultdict(list)
    for test in g.tests:
        parent = primary_parent(test)
        if parent:
            groups[(parent, test.raw.get("column_name") or None)].append(test)

    def uses(test: Resource, macro: str) -> bool:  # macro_dependencies like '%macro.<macro>%'
        return f"macro.{macro}" in json.dumps((test.raw.get("depends_on") or {}).get("macros", []))

    summary: dict[str, tuple[bool, int]] = {}
    for (parent, column), tests in groups.items():
        keyed = any(len({t.uid for t in tests if any(uses(t, m) for m in test_set)}) >= len(test_set)
                    for test_set in VARS["primary_key_test_macros"])
        unique_count = sum(1 for t in tests if uses(t, "dbt.test_unique"))
        node_column = (g.resources[parent].raw.get("columns") or {}).get(column or "") if parent in g.resources else None
        if node_column is not None:
            not_null = any(c.get("type") == "not_null" for c in node_column.get("constraints") or [])
            keyed = keyed or unique_count + int(not_null) >= 2
        before = summary.get(parent, (False, 0))
        summary[parent] = (before[0] or keyed, before[1] + len({t.uid for t in tests}))
    return summary


def rule_missing_primary_key_tests(g: Graph) -> Findings:
    """models/marts/tests/fct_missing_primary_key_tests.sql: unique + not_null on one column, or a
    composite-key test, or unique + a not_null constraint (primary_key_test_macros)."""
    summary = model_test_summary(g)
    return {r.name: r.resource_type for r in g.by_type(*VARS["enforced_primary_key_node_types"])
            if not summary.get(r.uid, (False, 0))[0]}


def rule_sources_without_freshness(g: Graph) -> Findings:
    """models/marts/tests/fct_sources_without_freshness.sql (macros/unpack/get_source_values.sql):
    a source with neither warn_after nor error_after counted, in its config or its freshness."""
    def counted(freshness: dict | None) -> bool:
        return bool(freshness) and bool((freshness.get("warn_after") or {}).get("count")
                                        or (freshness.get("error_after") or {}).get("count"))
    return {s.name: "" for s in g.by_type("source")
            if not (counted((s.raw.get("config") or {}).get("freshness")) or counted(s.raw.get("freshness")))}


def rule_test_coverage(g: Graph) -> Findings:
    """models/marts/tests/fct_test_coverage.sql and its test valid_test_coverage
    (test_coverage_pct >= test_coverage_target): below the target, each untested model is a finding."""
    summary = model_test_summary(g)
    models = g.by_type("model")
    untested = [m for m in models if summary.get(m.uid, (False, 0))[1] == 0]
    pct = round(100.0 * (len(models) - len(untested)) / len(models), 2) if models else 100.0
    if pct >= VARS["test_coverage_target"]:
        return {}
    return {m.name: f"coverage {pct}%" for m in untested}


RULES: dict[str, Callable[[Graph], Findings]] = {
    f"fct_{name.removeprefix('rule_')}": fn for name, fn in sorted(globals().items()) if name.startswith("rule_")
}


# --- House rules, stricter than the package (issue 29) -------------------------------------------

def house_marts_dependent_on_staging(g: Graph) -> Findings:
    """A mart (fct_/dim_, or rpt_) reads no staging or base model: what a mart needs of the inputs
    comes through an intermediate model (int_input_rows stacks every staged input row once), so
    the staging models are stacked in one place, not once per mart."""
    return {f"{e.parent.name} -> {e.child.name}": "" for e in g.edges()
            if e.parent.resource_type == "model" and e.child.resource_type == "model"
            and e.child.model_type in ("marts", "other") and e.parent.model_type in ("staging", "base")}


HOUSE_RULES: dict[str, Callable[[Graph], Findings]] = {
    name.removeprefix("house_"): fn for name, fn in sorted(globals().items()) if name.startswith("house_")
}


def findings(manifest: dict) -> dict[tuple[str, str], str]:
    graph = build_graph(manifest)
    return {(rule, resource): detail for rule, check in {**RULES, **HOUSE_RULES}.items()
            for resource, detail in check(graph).items()}


def exceptions() -> dict[tuple[str, str], str]:
    with EXCEPTIONS_FILE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        assert row["rule"] in RULES or row["rule"] in HOUSE_RULES, f"{EXCEPTIONS_FILE.name}: unknown rule {row['rule']!r}"
        assert (row.get("reason") or "").strip(), f"{EXCEPTIONS_FILE.name}: {row['rule']} {row['resource']}: no reason"
    return {(row["rule"], row["resource"]): row["reason"] for row in rows}


# --- The project -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("dag_rules")
    result = run_dbt("parse", dbt_vars=ALL_SHAPES, artifacts=work, capture=True, database=work / "parse.duckdb")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return json.loads((work / "target" / "manifest.json").read_text())


def test_manifest_holds_every_layer(manifest: dict) -> None:
    types = {r.model_type for r in build_graph(manifest).by_type("model")}
    # other: rpt_ models and the MetricFlow time spine (issue 14), named as MetricFlow expects.
    assert types == {"base", "staging", "intermediate", "marts", "other"}
    assert len([r for r in build_graph(manifest).by_type("model") if r.model_type == "base"]) >= 11


def test_every_rule_of_the_package_is_checked() -> None:
    assert len(RULES) == 29


def test_dag_and_naming_rules_hold(manifest: dict) -> None:
    found = findings(manifest)
    allowed = exceptions()
    unexplained = {key: detail for key, detail in found.items() if key not in allowed}
    assert not unexplained, "\n".join(f"{rule}: {node} {detail}" for (rule, node), detail in sorted(unexplained.items()))
    stale = set(allowed) - set(found)
    assert not stale, f"exceptions in {EXCEPTIONS_FILE.name} that are no longer findings (remove them): {sorted(stale)}"


# --- Each rule fires: a synthetic project, clean, and one change per rule that breaks it ----------

def _model(name: str, folder: str, parents: list[str], **extra) -> dict:
    node = {"resource_type": "model", "package_name": "refund_recon", "name": name,
            "original_file_path": f"{folder}/{name}.sql", "config": {"materialized": "table", "enabled": True},
            "depends_on": {"nodes": parents, "macros": []}, "description": f"The {name} model.",
            "columns": {"id": {"name": "id", "description": "The key.", "constraints": []}},
            "access": "protected", "contract": {"enforced": False}, "language": "sql",
            "raw_code": "select * from {{ ref('upstream') }}", "time_spine": None, "version": None}
    node.update(extra)
    return node


def _key_tests(model: str, yml: str) -> dict[str, dict]:
    return {f"test.refund_recon.{kind}_{model}_id": {
        "resource_type": "test", "package_name": "refund_recon", "name": f"{kind}_{model}_id",
        "original_file_path": yml, "config": {"enabled": True}, "column_name": "id",
        "depends_on": {"nodes": [f"model.refund_recon.{model}"], "macros": [f"macro.dbt.test_{kind}"]},
        "attached_node": f"model.refund_recon.{model}", "test_metadata": {"name": kind, "kwargs": {}}}
        for kind in ("unique", "not_null")}


def _source(source: str, table: str, folder: str = "models/staging/shop", **extra) -> dict:
    node = {"resource_type": "source", "package_name": "refund_recon", "source_name": source, "name": table,
            "original_file_path": f"{folder}/_{source}__sources.yml", "database": "db", "schema": "raw",
            "identifier": table, "description": "A table.", "source_description": "A system.",
            "freshness": {"warn_after": {"count": 24, "period": "hour"}}, "config": {"enabled": True}}
    node.update(extra)
    return node


def clean_project() -> dict:
    """source shop.orders -> stg_shop__orders -> int_orders_enriched -> fct_orders -> exposure."""
    src = "source.refund_recon.shop.orders"
    nodes = {
        "model.refund_recon.stg_shop__orders": _model("stg_shop__orders", "models/staging/shop", [src]),
        "model.refund_recon.int_orders_enriched": _model("int_orders_enriched", "models/intermediate",
                                                         ["model.refund_recon.stg_shop__orders"]),
        "model.refund_recon.fct_orders": _model("fct_orders", "models/marts", ["model.refund_recon.int_orders_enriched"],
                                                access="public", contract={"enforced": True}),
    }
    for model, folder in (("stg_shop__orders", "models/staging/shop"), ("int_orders_enriched", "models/intermediate"),
                          ("fct_orders", "models/marts")):
        nodes.update(_key_tests(model, f"{folder}/_models.yml"))
    exposure = {"resource_type": "exposure", "name": "dashboard", "original_file_path": "models/marts/_exposures.yml",
                "depends_on": {"nodes": ["model.refund_recon.fct_orders"]}}
    return {"nodes": nodes, "sources": {src: _source("shop", "orders")},
            "exposures": {"exposure.refund_recon.dashboard": exposure}, "metrics": {}}


def _add_model(project: dict, name: str, folder: str, parents: list[str], **extra) -> None:
    project["nodes"][f"model.refund_recon.{name}"] = _model(name, folder, parents, **extra)
    project["nodes"].update(_key_tests(name, f"{folder}/_models.yml"))


def _node(project: dict, name: str) -> dict:
    return project["nodes"][f"model.refund_recon.{name}"]


STG, INT, FCT, SRC = ("model.refund_recon.stg_shop__orders", "model.refund_recon.int_orders_enriched",
                      "model.refund_recon.fct_orders", "source.refund_recon.shop.orders")


def _chain_of_views(p: dict) -> None:
    _node(p, "stg_shop__orders")["config"]["materialized"] = "view"
    _node(p, "int_orders_enriched")["config"]["materialized"] = "view"
    parent = INT
    for step in range(1, 5):
        _add_model(p, f"int_orders_step_{step}", "models/intermediate", [parent], config={"materialized": "view"})
        parent = f"model.refund_recon.int_orders_step_{step}"
    _node(p, "fct_orders")["depends_on"]["nodes"] = [parent]


def _seeds(p: dict, count: int) -> list[str]:
    for i in range(count):
        p["nodes"][f"seed.refund_recon.map_{i}"] = {
            "resource_type": "seed", "package_name": "refund_recon", "name": f"map_{i}",
            "original_file_path": f"seeds/map_{i}.csv", "config": {"enabled": True}, "depends_on": {"nodes": []}}
    return [f"seed.refund_recon.map_{i}" for i in range(count)]


BREAKS: dict[str, Callable[[dict], None]] = {
    "fct_direct_join_to_source": lambda p: _node(p, "int_orders_enriched")["depends_on"]["nodes"].append(SRC),
    "fct_duplicate_sources": lambda p: p["sources"].update(
        {"source.refund_recon.shop.orders_again": _source("shop", "orders_again", identifier="orders")}),
    "fct_hard_coded_references": lambda p: _node(p, "fct_orders").update(raw_code="select * from raw.orders"),
    "fct_marts_or_intermediate_dependent_on_source": lambda p: _node(p, "fct_orders")["depends_on"]["nodes"].append(SRC),
    "fct_model_fanout": lambda p: [_add_model(p, f"fct_orders_{i}", "models/marts", [INT]) for i in range(3)],
    "fct_multiple_sources_joined": lambda p: (
        p["sources"].update({"source.refund_recon.shop.customers": _source("shop", "customers")}),
        _node(p, "stg_shop__orders")["depends_on"]["nodes"].append("source.refund_recon.shop.customers")),
    "fct_rejoining_of_upstream_concepts": lambda p: _node(p, "fct_orders")["depends_on"]["nodes"].append(STG),
    "fct_root_models": lambda p: _add_model(p, "int_orders_from_nowhere", "models/intermediate", []),
    "fct_source_fanout": lambda p: _add_model(p, "stg_shop__orders_again", "models/staging/shop", [SRC]),
    "fct_staging_dependent_on_marts_or_intermediate": lambda p: _add_model(p, "stg_shop__late", "models/staging/shop",
                                                                           [INT]),
    "fct_staging_dependent_on_staging": lambda p: _add_model(p, "stg_shop__again", "models/staging/shop", [STG]),
    "marts_dependent_on_staging": lambda p: _add_model(p, "fct_orders_raw", "models/marts", [STG]),
    "fct_too_many_joins": lambda p: _node(p, "fct_orders")["depends_on"]["nodes"].extend(_seeds(p, 6)),
    "fct_unused_sources": lambda p: p["sources"].update({"source.refund_recon.shop.unused": _source("shop", "unused")}),
    "fct_documentation_coverage": lambda p: _node(p, "int_orders_enriched").update(description=""),
    "fct_undocumented_models": lambda p: _node(p, "int_orders_enriched").update(description=""),
    "fct_undocumented_source_tables": lambda p: p["sources"][SRC].update(description=""),
    "fct_undocumented_sources": lambda p: p["sources"][SRC].update(source_description=""),
    "fct_exposures_dependent_on_private_models": lambda p: p["exposures"]["exposure.refund_recon.dashboard"][
        "depends_on"]["nodes"].append(INT),
    "fct_public_models_without_contract": lambda p: _node(p, "fct_orders").update(contract={"enforced": False}),
    "fct_undocumented_public_models": lambda p: _node(p, "fct_orders")["columns"]["id"].update(description=""),
    "fct_chained_views_dependencies": _chain_of_views,
    "fct_exposure_parents_materializations": lambda p: _node(p, "fct_orders")["config"].update(materialized="view"),
    "fct_model_directories": lambda p: _node(p, "int_orders_enriched").update(
        original_file_path="models/marts/int_orders_enriched.sql"),
    "fct_model_naming_conventions": lambda p: _node(p, "int_orders_enriched").update(name="orders_enriched"),
    "fct_source_directories": lambda p: p["sources"][SRC].update(original_file_path="models/staging/_sources.yml"),
    "fct_test_directories": lambda p: p["nodes"]["test.refund_recon.unique_fct_orders_id"].update(
        original_file_path="models/_all_tests.yml"),
    "fct_missing_primary_key_tests": lambda p: p["nodes"].pop("test.refund_recon.not_null_fct_orders_id"),
    "fct_sources_without_freshness": lambda p: p["sources"][SRC].update(freshness=None),
    "fct_test_coverage": lambda p: [p["nodes"].pop(f"test.refund_recon.{kind}_fct_orders_id")
                                    for kind in ("unique", "not_null")],
}


def test_the_synthetic_project_is_clean() -> None:
    assert findings(clean_project()) == {}


def test_every_rule_has_a_case_that_breaks_it() -> None:
    assert set(BREAKS) == set(RULES) | set(HOUSE_RULES)


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_each_rule_fires(rule: str) -> None:
    project = clean_project()
    BREAKS[rule](project)
    check = RULES.get(rule) or HOUSE_RULES[rule]
    assert check(build_graph(project)), f"{rule} did not fire on its breaking change"


# The package's own fixture for fct_hard_coded_references: integration_tests/models/marts/fct_model_6.sql
# (the body of its Jinja comment) and the expected row of
# integration_tests/seeds/dag/test_fct_hard_coded_references.csv.
PACKAGE_HARD_CODED_SQL = """
  from {{ ref('stg_model_3') }}
  union all select 3 as id from my_db.my_schema.my_table
  union all select 3 as id from 'my_db'.'my_schema'.'my_table'
  union all select 3 as id from "my_db"."my_schema"."my_table"
  union all select 3 as id from `my_db`.`my_schema`.`my_table`
  union all select 3 as id from [my_db].[my_schema].[my_table]
  union all select 4 as id from my_schema.raw_relation_5
  union all select 4 as id from 'my_schema'.'raw_relation_5'
  union all select 4 as id from "my_schema"."raw_relation_5"
  union all select 4 as id from `my_schema`.`raw_relation_5`
  union all select 4 as id from [my_schema].[raw_relation_5]
  union all select 4 as id from `raw_relation_1`
  union all select 4 as id from "raw_relation_2"
  union all select 4 as id from [raw_relation_3]
  union all select 4 as id from 'raw_relation_4'
  union all select 4 as id from `project-name.dataset_name.table_name`
  union all select 4 as id from {{ var("my_table_reference") }}
  union all select 4 as id from {{ var('my_table_reference') }}
  union all
  -- the following is SQL commented so it should not be found as a hard coded reference
--   from my_db.my_schema.my_table222
  select 5 as id from {{ var("my_table_reference", "table_d") }}
  union all select 5 as id from {{ var('my_table_reference', 'table_d') }}
  union all select 5 as id from a.b.c
  union all select 5 as id from a.b
"""
PACKAGE_HARD_CODED_EXPECTED = (
    '"my_db"."my_schema"."my_table", "my_schema"."raw_relation_5", "raw_relation_2", '
    "'my_db'.'my_schema'.'my_table', 'my_schema'.'raw_relation_5', 'raw_relation_4', "
    "[my_db].[my_schema].[my_table], [my_schema].[raw_relation_5], [raw_relation_3], "
    "`my_db`.`my_schema`.`my_table`, `my_schema`.`raw_relation_5`, `project-name.dataset_name.table_name`, "
    "`raw_relation_1`, a.b, a.b.c, my_db.my_schema.my_table, my_schema.raw_relation_5, "
    '{{ var("my_table_reference") }}, {{ var("my_table_reference", "table_d") }}, '
    "{{ var('my_table_reference') }}, {{ var('my_table_reference', 'table_d') }}")


def test_hard_coded_references_match_the_package_fixture() -> None:
    assert ", ".join(hard_coded_references(PACKAGE_HARD_CODED_SQL)) == PACKAGE_HARD_CODED_EXPECTED


def test_a_staging_model_outside_its_source_folder_is_found() -> None:
    project = clean_project()
    _node(project, "stg_shop__orders")["original_file_path"] = "models/staging/orders/stg_shop__orders.sql"
    assert set(rule_model_directories(build_graph(project))) == {"stg_shop__orders (shop)"}


def test_primary_keys_by_constraint_and_by_column_values() -> None:
    """unique + a not_null constraint on one column is a key; so is this project's column_values test."""
    project = clean_project()
    project["nodes"].pop("test.refund_recon.not_null_fct_orders_id")
    assert set(rule_missing_primary_key_tests(build_graph(project))) == {"fct_orders"}
    _node(project, "fct_orders")["columns"]["id"]["constraints"] = [{"type": "not_null"}]
    assert rule_missing_primary_key_tests(build_graph(project)) == {}
    project["nodes"].pop("test.refund_recon.unique_fct_orders_id")
    project["nodes"]["test.refund_recon.column_values_fct_orders"] = {
        "resource_type": "test", "package_name": "refund_recon", "name": "column_values_fct_orders",
        "original_file_path": "models/marts/_models.yml", "config": {"enabled": True}, "column_name": None,
        "depends_on": {"nodes": [FCT], "macros": ["macro.refund_recon.test_column_values"]},
        "attached_node": FCT, "test_metadata": {"name": "column_values", "kwargs": {"keys": ["id"]}}}
    assert rule_missing_primary_key_tests(build_graph(project)) == {}
