"""Check a change before it ships: an integration change (writeback dry run)
or a mapping-seed change (mapping impact). Neither touches the checkpoint
history: each builds into a throw-away DuckDB file.

validate-writeback: a batch of processor (and optionally storefront) refunds
and the ERP records a changed integration produced for it in a test
environment; reports, field by field, where the candidate differs from the
expected postings (fct_expected_erp_postings). Exit 0 only when it matches.

mapping-impact: builds the variance report twice on the same inputs, with
the mapping seeds of a base git revision and with the working tree's, and
lists, refund by refund, the variances the change adds, removes, reclassifies
(other variance types or other money at stake) and changes (other amounts,
detail or system at fault), with the money at stake per currency, and names
every refund the change takes out of the confirmation check (the ERP had to
book it, or its state was unknown, and now need not), with its amount,
and the variances an edit of variance_acknowledgements silences or brings
back, with their money at stake per currency;
--markdown writes a summary a pull request can show (docs/ci.md). Its
builds live in a temporary folder, removed on every exit.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import signal
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from . import money as money_
from . import store
from .dbt import PROJECT_DIR, quoted, relation, relation_parts, run_dbt
from .message import printable
from .reports import write_csv

STOREFRONT_HEADER = ("storefront_refund_id,order_id,processor_refund_id,amount,currency,refund_type,reason,status,"
                     "created_at,updated_at,channel,storefront\n")
DIFFERENCE_COLUMNS = ["processor_refund_id", "erp_document_id", "problem", "field", "expected", "candidate"]
PROBLEM_ORDER = ["missing", "extra", "duplicate key", "wrong GL account", "amount", "currency", "reason code",
                 "period", "unreadable row"]

# The field-by-field comparison of a candidate's ERP records with the expected postings is
# dbt's: the analysis analyses/writeback_differences.sql, compiled after the build and run here.
DIFFERENCES_ANALYSIS = "writeback_differences"

def add_arguments(sub: argparse._SubParsersAction) -> None:
    writeback = sub.add_parser(
        "validate-writeback", help="dry run: compare a changed integration's ERP records with the expected postings",
        description=__doc__.split("\n\n")[1],
    )
    writeback.add_argument("--batch", type=Path, required=True,
                           help="folder with processor_refunds (.csv/.parquet) and optionally storefront_refunds")
    writeback.add_argument("--candidate", type=Path, required=True, nargs="+",
                           help="the ERP records the changed integration produced (erp_refund_postings format); "
                                "several files are read as deliveries in that order (the ERP's export, then "
                                "a checkpoint's corrections.csv)")
    writeback.add_argument("--as-of", default=None, help="clock for the build, ISO 8601 UTC (default now)")
    writeback.add_argument("--business-timezone", default="UTC", help="timezone of accounting periods")
    writeback.add_argument("--out", type=Path, default=None,
                           help="CSV of the differences (default reports/writeback_<time>/differences.csv)")

    impact = sub.add_parser(
        "mapping-impact",
        help="which refunds a change to the mapping seeds adds to, removes from or reclassifies among the variances",
        description=__doc__.split("\n\n")[2],
    )
    impact.add_argument("--base", default="origin/main", help="git revision whose seeds are the base (default origin/main)")
    impact.add_argument("--data-dir", type=Path, default=PROJECT_DIR / "data" / "sample",
                        help="inputs to build both reports on (default the bundled sample)")
    impact.add_argument("--as-of", default=None, help="clock for both builds, ISO 8601 UTC (default now)")
    impact.add_argument("--business-timezone", default="UTC", help="timezone of accounting periods")
    impact.add_argument("--out", type=Path, default=None,
                        help="CSV of the added, removed, reclassified and changed refunds (default "
                             "reports/mapping_impact_<time>.csv)")
    impact.add_argument("--markdown", type=Path, default=None,
                        help="also write a Markdown summary for a pull request (counts by type, money at stake "
                             "per currency before and after, the moved refunds)")
    impact.add_argument("--fail-on-change", action="store_true",
                        help="exit 1 when the change adds, removes, reclassifies or changes any variance "
                             "(for a CI gate)")
    impact.add_argument("--fail-on-unchecked", action="store_true",
                        help="exit 1 when the change takes any refund out of the confirmation check (for a CI gate)")


def now_utc() -> str:
    return store.now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")


def dbt_build_models(project_dir: Path, work: Path, data_dir: Path, dbt_vars: dict, select: list[str]) -> bool:
    """Seeds and models only, into work/recon.duckdb; dbt's output shown only when it fails."""
    result = run_dbt("build", "--quiet", "--resource-type", "seed", "--resource-type", "model", "--select", *select,
                     database=work / "recon.duckdb", dbt_vars={**dbt_vars, "data_dir": str(data_dir)},
                     target="duckdb", artifacts=work, capture=True, project_dir=project_dir)
    if result.returncode != 0:
        print(result.stdout[-4000:] + result.stderr[-2000:])
    return result.returncode == 0


def compiled_analysis(name: str, work: Path, data_dir: Path, dbt_vars: dict) -> str | None:
    """The SQL of analysis `name` compiled against the build in `work` (dbt's compiled_code in
    the manifest); None, with dbt's output shown, when it does not compile."""
    result = run_dbt("compile", "--quiet", "--select", name, database=work / "recon.duckdb",
                     dbt_vars={**dbt_vars, "data_dir": str(data_dir)}, target="duckdb", artifacts=work,
                     capture=True)
    if result.returncode != 0:
        print(result.stdout[-4000:] + result.stderr[-2000:])
        return None
    nodes = json.loads((work / "target" / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    return next(node["compiled_code"] for node in nodes.values()
                if node["resource_type"] == "analysis" and node["name"] == name)


def find_input(folder: Path, name: str) -> Path | None:
    for suffix in (".csv", ".parquet"):
        if (folder / f"{name}{suffix}").exists():
            return folder / f"{name}{suffix}"
    return None


def validate_writeback(args: argparse.Namespace) -> int:
    import duckdb

    processor = find_input(args.batch, "processor_refunds")
    candidates = [Path(path) for path in (args.candidate if isinstance(args.candidate, list) else [args.candidate])]
    if processor is None or not all(path.exists() for path in candidates):
        print(f"need {args.batch}/processor_refunds.csv|.parquet and the candidate files "
              f"{', '.join(map(str, candidates))}")
        return 3
    out = args.out or PROJECT_DIR / "reports" / f"writeback_{now_utc().replace(':', '')}" / "differences.csv"
    with tempfile.TemporaryDirectory(prefix="writeback_") as tmp:
        work = Path(tmp)
        data = work / "data"
        data.mkdir()
        shutil.copy(processor, data / processor.name)
        storefront = find_input(args.batch, "storefront_refunds")
        if storefront:
            shutil.copy(storefront, data / storefront.name)
        else:
            (data / "storefront_refunds.csv").write_text(STOREFRONT_HEADER, encoding="utf-8")
        if len(candidates) == 1:
            suffix = ".parquet" if candidates[0].suffix == ".parquet" else ".csv"
            shutil.copy(candidates[0], data / f"erp_refund_postings{suffix}")
        else:
            (data / "erp_refund_postings").mkdir()
            for number, path in enumerate(candidates, start=1):
                suffix = ".parquet" if path.suffix == ".parquet" else ".csv"
                shutil.copy(path, data / "erp_refund_postings" / f"candidate_{number:03d}{suffix}")
        dbt_vars = {"as_of": args.as_of or now_utc(), "business_timezone": args.business_timezone}
        print(f"Building the expected postings for the batch in {args.batch} (a throw-away database)...", flush=True)
        if not dbt_build_models(PROJECT_DIR, work, data, dbt_vars,
                                ["+fct_expected_erp_postings", "+int_erp_postings_deduplicated", "+fct_rejected_rows"]):
            print("Outcome: failed (exit 3): the build failed")
            return 3
        differences_sql = compiled_analysis(DIFFERENCES_ANALYSIS, work, data, dbt_vars)
        if differences_sql is None:
            print("Outcome: failed (exit 3): the comparison did not compile")
            return 3
        with duckdb.connect(str(work / "recon.duckdb"), read_only=True) as con:
            differences = con.execute(f"select * from ({differences_sql}) as differences order by 3, 1, 2").fetchall()
            expected_count = con.execute(
                f"select count(*) from {relation('fct_expected_erp_postings', work)}").fetchone()[0]
            candidate_count = con.execute(
                f"select count(*) from {relation('int_erp_postings_deduplicated', work)}").fetchone()[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(out, [dict(zip(DIFFERENCE_COLUMNS, row)) for row in differences], DIFFERENCE_COLUMNS,
              at_currency_exponent=False)
    print(f"\nWriteback dry run: {candidate_count} candidate records against {expected_count} processor refunds.")
    if not differences:
        print("MATCH: the candidate holds exactly the expected postings.\nOutcome: match (exit 0)")
        return 0
    counts: dict[str, int] = {}
    for row in differences:
        counts[row[2]] = counts.get(row[2], 0) + 1
    print(f"{len(differences)} differences:")
    for problem in sorted(counts, key=lambda p: PROBLEM_ORDER.index(p) if p in PROBLEM_ORDER else 99):
        print(f"  {problem:<18} {counts[problem]}")
    for row in differences[:20]:
        print(f"  {row[2]}: refund {row[0]} document {row[1]}: {row[3]} expected {row[4]!r}, candidate {row[5]!r}")
    print(f"Differences: {out}\nOutcome: differences (exit 1)")
    return 1


def git_show(revision: str, path: str) -> bytes | None:
    result = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=PROJECT_DIR, capture_output=True)
    return result.stdout if result.returncode == 0 else None


# Per refund: the columns whose change under the same variance types and money makes it "changed".
COMPARED_COLUMNS = ("discrepancy_system", "storefront_amount", "processor_amount", "erp_amount", "amount_delta",
                    "detail")
IMPACT_COLUMNS = ["change", "refund_id", "variance_type", "before_variance_type", "currency", "amount_at_stake",
                  "before_amount_at_stake", "discrepancy_system", "before_discrepancy_system", "amount_delta",
                  "before_amount_delta", "detail", "before_detail", "changed_fields", "variance_ids"]
CHANGES = ("added", "removed", "reclassified", "changed")
MARKDOWN_ROWS = 50


def per_refund_sql(variances: str) -> str:
    """One row per refund with open variances in `variances` (a build's fct_refund_variances): its variance types ('+'-joined),
    currency, money at stake (the largest of its variances': a refund counts once), the delta of
    largest size, the systems at fault, the details, and a signature of the compared columns.
    The money is the mart's amount_at_stake (macros/money/amount_at_stake.sql): no rule here."""
    signature = " || '|' || ".join(f"coalesce(cast({column} as varchar), '')" for column in COMPARED_COLUMNS)
    return f"""
        select refund_id,
               string_agg(distinct variance_type, '+' order by variance_type) as variance_type,
               string_agg(distinct coalesce(currency, ''), '+' order by coalesce(currency, '')) as currency,
               max(abs(amount_at_stake)) as amount_at_stake,
               string_agg(distinct discrepancy_system, '+' order by discrepancy_system) as discrepancy_system,
               arg_max(amount_delta, abs(coalesce(amount_delta, 0))) as amount_delta,
               string_agg(variance_type || ': ' || coalesce(detail, ''), ' / ' order by variance_type, variance_id)
                   as detail,
               string_agg(variance_type || '=' || {signature}, ';' order by variance_type, variance_id) as signature,
               string_agg(variance_id, ' ' order by variance_id) as variance_ids,
               count(*) as variances
        from {variances} group by refund_id"""


def attach_builds(con: Any, base_db: Path, head_db: Path,
                  artifacts: dict[str, Path] | None = None) -> Callable[[str, str], str | None]:
    """Attach the two builds to `con` as base and head; returns where(label, name): the
    relation of model `name` in that build ("head"."main"."fct_refund_variances"), or None
    when the build has none. Where a build's dbt artifacts are given, dbt's manifest names
    it; else (a database made without dbt) the one table of that name in the file."""
    for label, path in (("base", base_db), ("head", head_db)):
        con.execute(f"attach '{str(path).replace(chr(39), chr(39) * 2)}' as {label} (read_only)")

    def where(label: str, name: str) -> str | None:
        if artifacts and label in artifacts:
            try:
                schema, identifier = relation_parts(name, artifacts[label])
            except KeyError:
                return None
            schemas = [schema] if con.execute(
                "select count(*) from information_schema.tables where table_catalog = ? and table_schema = ? "
                "and table_name = ?", [label, schema, identifier]).fetchone()[0] else []
        else:
            identifier = name
            schemas = [row[0] for row in con.execute(
                "select table_schema from information_schema.tables where table_catalog = ? and table_name = ?",
                [label, name]).fetchall()]
        return quoted(label, schemas[0], identifier) if len(schemas) == 1 else None

    return where


def columns_of(con: Any, relation_name: str | None) -> set[str]:
    """The column names of a relation `where` found (none for None)."""
    if relation_name is None:
        return set()
    return {row[0] for row in con.execute(f"select * from {relation_name} limit 0").description}


def compare_variances(base_db: Path, head_db: Path, artifacts: dict[str, Path] | None = None) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(the refunds the change moves, one dict per IMPACT_COLUMNS: added (a variance only with
    the change), removed (only at base), reclassified (a variance in both, of other types or
    other money at stake), changed (same types and money, other amounts, system or detail); the
    money at stake per currency in each build: variances, refunds and the sum over refunds of
    their money at stake)."""
    import duckdb

    with duckdb.connect() as con:
        where = attach_builds(con, base_db, head_db, artifacts)
        for label in ("base", "head"):
            variances = where(label, "fct_refund_variances")
            if "amount_at_stake" not in columns_of(con, variances):
                raise ValueError(f"{label} build: fct_refund_variances has no amount_at_stake (the money at "
                                 "stake is the mart's): build it with this project's models")
            con.execute(f"create temp table {label}_refunds as {per_refund_sql(variances)}")
        fields = " || ".join(f"case when h.{column} is distinct from b.{column} then '{column},' else '' end"
                             for column in ("variance_type", "currency", "amount_at_stake", "discrepancy_system",
                                            "amount_delta", "detail"))
        cursor = con.execute(f"""
            with compared as (
                select coalesce(h.refund_id, b.refund_id) as refund_id,
                       case when b.refund_id is null then 'added'
                            when h.refund_id is null then 'removed'
                            when h.variance_type is distinct from b.variance_type
                              or h.currency is distinct from b.currency
                              or h.amount_at_stake is distinct from b.amount_at_stake then 'reclassified'
                            when h.signature is distinct from b.signature then 'changed'
                       end as change,
                       coalesce(h.variance_type, b.variance_type) as variance_type,
                       case when h.refund_id is not null then b.variance_type end as before_variance_type,
                       coalesce(h.currency, b.currency) as currency,
                       coalesce(h.amount_at_stake, b.amount_at_stake) as amount_at_stake,
                       case when h.refund_id is not null then b.amount_at_stake end as before_amount_at_stake,
                       coalesce(h.discrepancy_system, b.discrepancy_system) as discrepancy_system,
                       case when h.refund_id is not null then b.discrepancy_system end as before_discrepancy_system,
                       case when h.refund_id is not null then h.amount_delta else b.amount_delta end as amount_delta,
                       case when h.refund_id is not null then b.amount_delta end as before_amount_delta,
                       coalesce(h.detail, b.detail) as detail,
                       case when h.refund_id is not null then b.detail end as before_detail,
                       case when h.refund_id is not null and b.refund_id is not null
                            then nullif(rtrim({fields}, ','), '') end as changed_fields,
                       coalesce(h.variance_ids, b.variance_ids) as variance_ids
                from head_refunds as h full outer join base_refunds as b using (refund_id)
            )
            select {", ".join(IMPACT_COLUMNS)} from compared where change is not null
            order by case change {" ".join(f"when '{c}' then {i}" for i, c in enumerate(CHANGES))} end,
                     variance_type, refund_id
        """)
        names = [item[0] for item in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        stakes = {}
        for label in ("base", "head"):
            stakes[label] = [dict(zip(("currency", "count", "refunds", "amount"), row)) for row in con.execute(f"""
                select currency, sum(variances), count(*), sum(coalesce(amount_at_stake, 0))
                from {label}_refunds group by 1 order by 1""").fetchall()]
    return rows, stakes


# A refund out of the confirmation check: at base the ERP had to book it (its status succeeded)
# or its state was unknown (an unmapped status); with the change it need not (pending, failed,
# canceled). Or its only ERP posting was on an unmapped GL account and the change counts that
# posting as its booking. A refund the processor settled and the ERP never booked as a refund
# would then pass as clean.
UNCHECKED_COLUMNS = ["refund_id", "before_status", "status", "before_requirement", "requirement", "amount",
                     "currency"]


def refunds_out_of_check(base_db: Path, head_db: Path, artifacts: dict[str, Path] | None = None) -> list[dict[str, Any]]:
    """The processor refunds the change takes out of the confirmation check, one dict per
    UNCHECKED_COLUMNS (amount in major units): the ERP posting turns from required (or unknown)
    into optional or none, or a posting on an unmapped GL account becomes the booking."""
    import duckdb

    with duckdb.connect() as con:
        where = attach_builds(con, base_db, head_db, artifacts)
        cursor = con.execute(f"""
            select h.processor_refund_id as refund_id, b.processor_status as before_status,
                   h.processor_status as status, b.posting_requirement as before_requirement,
                   h.posting_requirement as requirement, h.amount, h.currency
            from {where('base', 'fct_expected_erp_postings')} as b
            inner join {where('head', 'fct_expected_erp_postings')} as h using (processor_refund_id)
            where b.posting_requirement in ('required', 'unknown') and h.posting_requirement in ('optional', 'none')
            union all
            select h.processor_refund_id, b.processor_status, h.processor_status,
                   'required, ERP account unmapped', 'required, booked', h.amount, h.currency
            from {where('base', 'fct_expected_erp_postings')} as b
            inner join {where('head', 'fct_expected_erp_postings')} as h using (processor_refund_id)
            where h.posting_requirement = 'required'
              and exists (select 1 from {where('base', 'fct_refund_variances')} as v
                          where v.refund_id = h.processor_refund_id and v.variance_type = 'unmapped_status'
                            and v.discrepancy_system = 'erp')
              and not exists (select 1 from {where('head', 'fct_refund_variances')} as v
                              where v.refund_id = h.processor_refund_id and v.discrepancy_system = 'erp'
                                and v.variance_type in ('unmapped_status', 'missing_in_erp', 'status_mismatch'))
            order by currency, refund_id
        """)
        names = [item[0] for item in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


# The variances an edit of seed variance_acknowledgements silences (acknowledged with the
# change, not at base) or brings back (acknowledged at base, not with it), each with the mart's
# amount_at_stake; and every acknowledgement of the change that silences nothing, with why.
ACKNOWLEDGED_COLUMNS = ["change", "variance_id", "refund_id", "variance_type", "currency", "amount_at_stake",
                        "acknowledged_by", "acknowledgement_reason", "acknowledgement_expires_on", "state_reason"]


def acknowledgement_changes(base_db: Path, head_db: Path, artifacts: dict[str, Path] | None = None) -> list[dict[str, Any]]:
    """One dict per ACKNOWLEDGED_COLUMNS: change 'silenced', 'unsilenced', or the state of an
    acknowledgement that holds for no open variance (expired, superseded, resolved,
    unknown_variance). A build from before the seed existed has nothing acknowledged."""
    import duckdb

    with duckdb.connect() as con:
        where = attach_builds(con, base_db, head_db, artifacts)

        def has(label: str, table: str, column: str) -> bool:
            return column in columns_of(con, where(label, table))

        acknowledged = {label: (f"select variance_id from {where(label, 'fct_refund_variances')} where is_acknowledged"
                                if has(label, "fct_refund_variances", "is_acknowledged")
                                else "select cast(null as varchar) as variance_id where false")
                        for label in ("base", "head")}
        head_variances, base_variances = where("head", "fct_refund_variances"), where("base", "fct_refund_variances")
        with_head = has("head", "fct_variance_acknowledgements", "variance_id")
        cursor = con.execute(f"""
            with head_ack as ({acknowledged['head']}), base_ack as ({acknowledged['base']}),
            moved as (
                select 'silenced' as change, variance_id from head_ack
                where variance_id not in (select variance_id from base_ack)
                union all
                select 'unsilenced', variance_id from base_ack
                where variance_id not in (select variance_id from head_ack)
            )
            select moved.change, moved.variance_id, v.refund_id, v.variance_type, v.currency, v.amount_at_stake,
                   a.acknowledged_by, a.reason as acknowledgement_reason, a.expires_on as acknowledgement_expires_on,
                   a.state_reason
            from moved
            inner join (select * from {head_variances} union all by name
                        select * from {base_variances}
                        where variance_id not in (select variance_id from {head_variances})) as v
                using (variance_id)
            left join {where('head', 'fct_variance_acknowledgements')} as a
                using (variance_id)
            order by moved.change desc, v.currency, v.amount_at_stake desc, moved.variance_id
        """) if with_head else None
        rows = [] if cursor is None else [dict(zip([item[0] for item in cursor.description], row))
                                          for row in cursor.fetchall()]
        if with_head:
            cursor = con.execute(f"""
                select acknowledgement_state as change, variance_id, refund_id, variance_type, currency,
                       amount_at_stake, acknowledged_by, reason as acknowledgement_reason,
                       expires_on as acknowledgement_expires_on, state_reason
                from {where('head', 'fct_variance_acknowledgements')} where acknowledgement_state <> 'active'
                order by acknowledgement_state, variance_id""")
            rows += [dict(zip([item[0] for item in cursor.description], row)) for row in cursor.fetchall()]
        return rows


def acknowledged_money(rows: list[dict[str, Any]], change: str, exponents: dict[str, int]) -> str:
    """'EUR 120.00, USD 5.00': the amount at stake of the variances of `change`, summed within
    each currency (the mart's amount_at_stake of each variance), never across."""
    totals: dict[str, Decimal] = {}
    for row in rows:
        if row["change"] == change and row["amount_at_stake"] is not None:
            totals[row["currency"] or ""] = totals.get(row["currency"] or "", Decimal(0)) + Decimal(
                str(row["amount_at_stake"]))
    return ", ".join(money(amount, currency, exponents) for currency, amount in sorted(totals.items())) or "nothing"


def acknowledged_csv(out: Path) -> Path:
    """Where the acknowledgement changes are written, beside the impact CSV."""
    return out.with_name(f"{out.stem}_acknowledged.csv")


def acknowledgement_markdown(rows: list[dict[str, Any]], exponents: dict[str, int], limit: int = MARKDOWN_ROWS) -> str:
    if not rows:
        return ""
    lines = ["### Acknowledged variances (seed variance_acknowledgements)", ""]
    for change, words in (("silenced", "silenced by this change (no longer counted against clean)"),
                          ("unsilenced", "no longer acknowledged (counted as open again)")):
        count = sum(1 for row in rows if row["change"] == change)
        if count:
            lines.append(f"- {count} {words}: {md_text(acknowledged_money(rows, change, exponents))} at stake.")
    lapsed = [row for row in rows if row["change"] not in ("silenced", "unsilenced")]
    if lapsed:
        lines.append(f"- {len(lapsed)} acknowledgements hold for no open variance (expired, superseded, resolved "
                     "or unknown).")
    lines += ["", "| change | variance | type | at stake | acknowledged by | reason / why |", "|---|---|---|---:|---|---|"]
    lines += [f"| {md_text(row['change'])} | {md_text(row['variance_id'])} | {md_text(row['variance_type'])} | "
              f"{md_text(money(row['amount_at_stake'], row['currency'], exponents))} | "
              f"{md_text(row['acknowledged_by'])} | "
              f"{md_text(row['acknowledgement_reason'] if row['change'] == 'silenced' else row['state_reason'])} |"
              for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n… and {len(rows) - limit} more (all of them in the CSV).")
    return "\n".join(lines + [""])


def unchecked_csv(out: Path) -> Path:
    """Where the refunds out of the check are written, beside the impact CSV."""
    return out.with_name(f"{out.stem}_out_of_check.csv")


def minor_units(project_dir: Path = PROJECT_DIR) -> dict[str, int]:
    """currency -> exponent from the project's currencies seed."""
    return money_.seed_exponents(project_dir / "seeds" / "currencies.csv")


def money(amount: Any, currency: str | None, exponents: dict[str, int]) -> str:
    """money.text at the currency's exponent (JPY 37,224; KWD 66.967); blank when null."""
    if amount is None:
        return ""
    return money_.text(amount, currency, money_.minor_units(currency, exponents.get(currency or "")))


def md_text(value: Any) -> str:
    """Data in a Markdown table cell: no HTML, no table breaks, no @mentions or links."""
    text = html.escape(" ".join(str(value or "").split()), quote=False)
    for char, escaped in (("|", "\\|"), ("@", "&#64;"), ("[", "\\["), ("]", "\\]"), ("`", "&#96;")):
        text = text.replace(char, escaped)
    return text


def old_to_new(now: Any, before: Any) -> str:
    return str(now) if now == before else f"{before} → {now}"


def moved_money(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, Decimal, Decimal]]:
    """Per (change, currency): refunds, money at stake before and after (an added refund's
    before is 0, a removed one's after is 0). Currencies are never added together."""
    totals: dict[tuple[str, str], tuple[int, Decimal, Decimal]] = {}
    for row in rows:
        key = (row["change"], row["currency"] or "")
        count, before, after = totals.get(key, (0, Decimal(0), Decimal(0)))
        was = row["amount_at_stake"] if row["change"] == "removed" else row["before_amount_at_stake"]
        now = None if row["change"] == "removed" else row["amount_at_stake"]
        totals[key] = (count + 1, before + Decimal(str(was or 0)), after + Decimal(str(now or 0)))
    return totals


def type_counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per variance type, how many refunds each change moves into or out of it (a reclassified
    refund counts under every type it gains or loses, or all of its types when only its money
    changed)."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        now = set((row["variance_type"] or "").split("+")) - {""}
        before = set((row["before_variance_type"] or "").split("+")) - {""}
        kinds = (now ^ before or now) if row["change"] == "reclassified" else now
        for kind in kinds:
            counts.setdefault(kind, dict.fromkeys(CHANGES, 0))[row["change"]] += 1
    return counts


def impact_markdown(base: str, seeds_changed: list[str], rows: list[dict[str, Any]],
                    stakes: dict[str, list[dict[str, Any]]], exponents: dict[str, int],
                    limit: int = MARKDOWN_ROWS, unchecked: list[dict[str, Any]] | None = None) -> str:
    totals = {change: sum(1 for row in rows if row["change"] == change) for change in CHANGES}
    lines = [f"## Mapping impact against `{md_text(base)}`", "",
             f"Seeds changed: {', '.join(md_text(seed) for seed in seeds_changed) or 'none'}. "
             f"Refunds with variances **added {totals['added']}**, **removed {totals['removed']}**, "
             f"**reclassified {totals['reclassified']}**, **changed {totals['changed']}**.", ""]
    unchecked = unchecked or []
    if unchecked:
        lines += [f"### ⚠ Refunds taken out of the confirmation check ({len(unchecked)})", "",
                  "The ERP had to book each of these (or its state was unknown); with this change it need not, "
                  "so one the ERP never booked no longer shows as a variance. Review the mapping.", "",
                  "| refund | processor status | ERP posting | amount |", "|---|---|---|---:|"]
        lines += [f"| {md_text(row['refund_id'])} | "
                  f"{md_text(old_to_new(row['status'], row['before_status'] or 'unmapped'))} | "
                  f"{md_text(old_to_new(row['requirement'], row['before_requirement']))} | "
                  f"{md_text(money(row['amount'], row['currency'], exponents))} |" for row in unchecked[:limit]]
        if len(unchecked) > limit:
            lines.append(f"\n… and {len(unchecked) - limit} more (all of them in the CSV).")
        totals_by_currency: dict[str, Decimal] = {}
        for row in unchecked:
            currency = row["currency"] or ""
            totals_by_currency[currency] = totals_by_currency.get(currency, Decimal(0)) + Decimal(str(row["amount"] or 0))
        lines += ["", "Amount out of the check: " + ", ".join(
            money(amount, currency, exponents) for currency, amount in sorted(totals_by_currency.items())) + ".", ""]
    counts = type_counts(rows)
    if counts:
        lines += ["| variance type | added | removed | reclassified | changed |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {md_text(kind)} | {c['added']} | {c['removed']} | {c['reclassified']} | {c['changed']} |"
                  for kind, c in sorted(counts.items())]
        lines.append("")
        moved = moved_money(rows)
        lines += ["### Money the change moves, per currency", "",
                  "| change | currency | refunds | at stake before | at stake after |", "|---|---|---:|---:|---:|"]
        lines += [f"| {change} | {md_text(currency) or '(none)'} | {count} | {money(before, currency, exponents)} | "
                  f"{money(after, currency, exponents)} |"
                  for (change, currency), (count, before, after) in sorted(
                      moved.items(), key=lambda item: (CHANGES.index(item[0][0]), item[0][1]))]
        lines.append("")
    before = {item["currency"]: item for item in stakes.get("base", [])}
    after = {item["currency"]: item for item in stakes.get("head", [])}
    lines += ["### Money at stake per currency, all open variances (each refund once)", "",
              "| currency | variances before | at stake before | variances after | at stake after |",
              "|---|---:|---:|---:|---:|"]
    for currency in sorted(set(before) | set(after)):
        b, a = before.get(currency, {}), after.get(currency, {})
        lines.append(f"| {md_text(currency) or '(none)'} | {b.get('count', 0)} | "
                     f"{money(b.get('amount', 0), currency, exponents)} | {a.get('count', 0)} | "
                     f"{money(a.get('amount', 0), currency, exponents)} |")
    lines.append("")
    titles = {"reclassified": "Reclassified refunds (other variance types or money)",
              "changed": "Changed refunds (same types and money; other amounts, system or detail)",
              "added": "Added refunds", "removed": "Removed refunds"}
    for change in ("reclassified", "changed", "added", "removed"):
        selected = [row for row in rows if row["change"] == change]
        if not selected:
            continue
        lines += [f"### {titles[change]} ({len(selected)})", ""]
        if change in ("reclassified", "changed"):
            lines += ["| refund | variance type | at stake | what changed | system at fault | detail |",
                      "|---|---|---:|---|---|---|"]
            for row in selected[:limit]:
                stake_before = money(row["before_amount_at_stake"], row["currency"], exponents)
                lines.append(
                    f"| {md_text(row['refund_id'])} | "
                    f"{md_text(old_to_new(row['variance_type'], row['before_variance_type']))} | "
                    f"{md_text(old_to_new(money(row['amount_at_stake'], row['currency'], exponents), stake_before))} | "
                    f"{md_text(row['changed_fields'])} | "
                    f"{md_text(old_to_new(row['discrepancy_system'], row['before_discrepancy_system']))} | "
                    f"{md_text(row['detail'])}"
                    + ("" if row["detail"] == row["before_detail"] else f" (was: {md_text(row['before_detail'])})")
                    + " |")
        else:
            lines += ["| refund | variance type | at stake | system at fault | detail |", "|---|---|---:|---|---|"]
            lines += [f"| {md_text(row['refund_id'])} | {md_text(row['variance_type'])} | "
                      f"{md_text(money(row['amount_at_stake'], row['currency'], exponents))} | "
                      f"{md_text(row['discrepancy_system'])} | {md_text(row['detail'])} |"
                      for row in selected[:limit]]
        if len(selected) > limit:
            lines.append(f"\n… and {len(selected) - limit} more {change} refunds (all of them in the CSV).")
        lines.append("")
    return "\n".join(lines)


def mapping_impact(args: argparse.Namespace) -> int:
    check = subprocess.run(["git", "rev-parse", "--verify", args.base], cwd=PROJECT_DIR, capture_output=True, text=True)
    if check.returncode != 0:
        print(f"unknown git revision {args.base!r}")
        return 3
    dbt_vars = {"as_of": args.as_of or now_utc(), "business_timezone": args.business_timezone}
    out = args.out or PROJECT_DIR / "reports" / f"mapping_impact_{now_utc().replace(':', '')}.csv"
    # Both builds, the base project and dbt's artifacts live in one temporary folder outside the
    # working tree, removed on every exit: success, failure, an exception, Ctrl-C or SIGTERM (a CI
    # job cancelled): the working tree is left as it was found.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return _mapping_impact(args, dbt_vars, out)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _mapping_impact(args: argparse.Namespace, dbt_vars: dict, out: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="mapping_impact_") as tmp:
        work = Path(tmp)
        base_project = work / "base_project"
        shutil.copytree(PROJECT_DIR, base_project, ignore=shutil.ignore_patterns(
            ".venv", ".git", "target", "logs", "reports", "*.duckdb*", "data", "bi"))
        changed = []
        for seed in sorted((PROJECT_DIR / "seeds").glob("*.csv")):
            base_text = git_show(args.base, f"seeds/{seed.name}")
            if base_text is None:
                # new with the change: at base it held nothing (its header only, so the models
                # that read it still build)
                header = seed.read_bytes().split(b"\n", 1)[0] + b"\n"
                (base_project / "seeds" / seed.name).write_bytes(header)
                changed.append(f"{seed.name} (new)")
            else:
                (base_project / "seeds" / seed.name).write_bytes(base_text)
                if base_text != seed.read_bytes():
                    changed.append(seed.name)
        print(f"Seeds changed since {args.base}: {', '.join(changed) or 'none'}", flush=True)
        for label, project in (("base", base_project), ("head", PROJECT_DIR)):
            (work / label).mkdir()
            print(f"Building the variance report with the {label} seeds...", flush=True)
            if not dbt_build_models(project, work / label, args.data_dir.resolve(), dbt_vars,
                                    ["+fct_refund_variances", "+fct_expected_erp_postings",
                                     "+fct_variance_acknowledgements"]):
                print(f"Outcome: failed (exit 3): the {label} build failed")
                return 3
        builds = (work / "base" / "recon.duckdb", work / "head" / "recon.duckdb")
        artifacts = {"base": work / "base", "head": work / "head"}
        rows, stakes = compare_variances(*builds, artifacts)
        unchecked = refunds_out_of_check(*builds, artifacts)
        acknowledgements = acknowledgement_changes(*builds, artifacts)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(acknowledged_csv(out), acknowledgements, ACKNOWLEDGED_COLUMNS, at_currency_exponent=False)
    write_csv(out, rows, IMPACT_COLUMNS, at_currency_exponent=False)
    write_csv(unchecked_csv(out), unchecked, UNCHECKED_COLUMNS, at_currency_exponent=False)
    exponents = minor_units()
    print(f"\nMapping impact of the seeds against {args.base}: {len(rows)} refunds with variances added, "
          "removed, reclassified or changed.")
    for (change, currency), (count, before, after) in sorted(
            moved_money(rows).items(), key=lambda item: (CHANGES.index(item[0][0]), item[0][1])):
        print(f"  {change:<13} {currency or '(none)':<6} {count:>5} refunds  at stake "
              f"{money(before, currency, exponents) or 0} -> {money(after, currency, exponents) or 0}")
    for row in [row for row in rows if row["change"] == "reclassified"][:20]:
        print(f"  reclassified {row['refund_id']}: {row['before_variance_type']} -> {row['variance_type']}, "
              f"{money(row['before_amount_at_stake'], row['currency'], exponents)} -> "
              f"{money(row['amount_at_stake'], row['currency'], exponents)}")
    print(f"Details: {out}")
    print(f"\nRefunds taken out of the confirmation check: {len(unchecked)}"
          + (" (the ERP had to book each, or its state was unknown; now it need not: review the mapping)"
             if unchecked else "") + f". Details: {unchecked_csv(out)}")
    for row in unchecked[:20]:
        print(f"  {row['refund_id']}: processor status {row['before_status'] or 'unmapped'} -> {row['status']}, "
              f"ERP posting {row['before_requirement']} -> {row['requirement']}, "
              f"{money(row['amount'], row['currency'], exponents)}")
    if len(unchecked) > 20:
        print(f"  ... and {len(unchecked) - 20} more")
    silenced = [row for row in acknowledgements if row["change"] == "silenced"]
    unsilenced = [row for row in acknowledgements if row["change"] == "unsilenced"]
    print(f"\nAcknowledgements: the change silences {len(silenced)} variances "
          f"({acknowledged_money(acknowledgements, 'silenced', exponents)} at stake) and brings back "
          f"{len(unsilenced)} ({acknowledged_money(acknowledgements, 'unsilenced', exponents)}). "
          f"Details: {acknowledged_csv(out)}")
    for row in acknowledgements[:20]:
        print(f"  {row['change']} {printable(row['variance_id'])} {printable(row['variance_type'])} "
              f"{money(row['amount_at_stake'], row['currency'], exponents)}: "
              f"{printable(row['acknowledgement_reason'] if row['change'] == 'silenced' else row['state_reason'])}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(impact_markdown(args.base, changed, rows, stakes, exponents, unchecked=unchecked)
                                 + acknowledgement_markdown(acknowledgements, exponents), encoding="utf-8")
        print(f"Markdown summary: {args.markdown}")
    return 1 if (rows and args.fail_on_change) or (unchecked and args.fail_on_unchecked) else 0
