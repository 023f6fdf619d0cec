"""One checkpoint, start to finish: lock, check inputs, build the verdict's
models and data tests in a copy of the database, read and announce the verdict
(summary.json, the message, the webhook), build the rest (the audit trail,
suggested matches, ERP corrections), publish the copy, publish the marts for
BI tools (publish.py), write the report.

Nothing the checkpoint changes is visible until the verdict's build and every
data test of it passed: the marts and the history move together, in one
rename (store.py). A failed checkpoint changes nothing but its own row in
checkpoint_attempts and its own report folder (<checkpoint_id>-failed). A
failure after the verdict is its own line (summary.json `after_verdict`) and
never changes the verdict: the marts built after it that did not build keep
the previous checkpoint's rows, each row naming its checkpoint_id.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from . import publish, store
from .dbt import PROJECT_DIR, DbtSession, duckdb_memory_limit
from .marts import VARIANCE_COLUMNS, read_after_verdict, read_checkpoint
from .message import message, printable, within_tolerance
from .notify import mask_url, post_json, slack_payload, webhook_url_problem
from .reports import write_json, write_report_folder
from .store import Busy, CheckpointError

EXIT_CODES = {"clean": 0, "variances_found": 1, "stale_sources": 2, "failed": 3, "busy": 4, "usage": 64}
INPUTS = ("storefront_refunds", "processor_refunds", "erp_refund_postings")
DUCKDB_TARGETS = ("prod", "duckdb")
REPORT_URL_ENV = "REFUND_RECON_REPORT_URL_BASE"


# The vars the runner sets from its own flags: a --var of one of these names
# would silently win over the flag (cli.py refuses it, naming both).
FLAG_VARS = {"data_dir": "--data-dir", "as_of": "--as-of", "confirmation_sla_minutes": "--sla-minutes",
             "amount_tolerance": "--amount-tolerance", "business_timezone": "--business-timezone",
             "source_freshness_hours": "--freshness-hours", "storefront_shapes": "--storefront-shapes",
             "processor_shapes": "--processor-shapes", "erp_shapes": "--erp-shapes"}


def checkpoint_id_at(moment: datetime) -> str:
    """cp_20260301T000000Z for a whole second; cp_20260301T000000.500000Z when
    as_of has a fraction (microseconds, six digits), so two checkpoints less
    than a second apart never share an id. The same text as the SQL macro
    checkpoint_id() (macros/settings/checkpoint_history.sql) on every adapter."""
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return "cp_" + moment.strftime("%Y%m%dT%H%M%S") + fraction + "Z"


@dataclass
class Settings:
    data_dir: Path
    as_of: str
    target: str
    database: Path
    reports_dir: Path
    confirmation_sla_minutes: int
    amount_tolerance: str
    business_timezone: str
    source_freshness_hours: int
    tolerate_amount: Decimal | None
    webhook_env: str
    shapes: dict[str, list[str]] = field(default_factory=dict)
    extra_vars: dict[str, str] = field(default_factory=dict)
    full_refresh: bool = False
    debug: bool = False
    bi_dir: Path | None = None      # where the marts are published for BI; None: not published
    bi_keep: int = 3

    @property
    def checkpoint_id(self) -> str:
        return checkpoint_id_at(datetime.fromisoformat(self.as_of.replace("Z", "+00:00")))

    @property
    def as_of_utc(self) -> datetime:
        return datetime.fromisoformat(self.as_of.replace("Z", "+00:00")).replace(tzinfo=None)

    @property
    def artifacts(self) -> Path:
        """dbt's target/ and logs/ for this checkpoint database (`refund_recon.duckdb.dbt/`):
        two checkpoints on two databases (prod and a test, say) never write one manifest."""
        return self.database.with_name(self.database.name + ".dbt")

    def dbt_vars(self) -> dict[str, object]:
        return {
            "data_dir": str(self.data_dir),
            "as_of": self.as_of,
            "confirmation_sla_minutes": self.confirmation_sla_minutes,
            "amount_tolerance": self.amount_tolerance,
            "business_timezone": self.business_timezone,
            "source_freshness_hours": self.source_freshness_hours,
            **{f"{role}_shapes": shapes for role, shapes in self.shapes.items()},
            **self.extra_vars,
        }


DELIVERY_KINDS = ("csv.gz", "csv", "parquet")


def delivery_kind(name: str) -> str | None:
    """What a file name is as a delivery: csv, csv.gz or parquet (the extension
    in any case), 'hidden' (a leading dot: .DS_Store, AppleDouble ._name) or
    None. The same rules as the build's hook (macros/inputs/register_refund_inputs.sql)."""
    if name.startswith("."):
        return "hidden"
    return next((kind for kind in DELIVERY_KINDS if name.lower().endswith("." + kind)), None)


def folder_entries(folder: Path) -> list[os.DirEntry]:
    """The entries of a folder, by name, listed literally (never a pattern)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError as error:
        raise CheckpointError(f"folder {folder} cannot be listed: {error.strerror or error}") from None


def unreadable(path: Path) -> str | None:
    """Why a path that names a file or folder cannot be followed (a symlink loop, a dangling link), or None."""
    try:
        os.stat(path)
    except OSError as error:
        if path.is_symlink():
            import errno  # noqa: PLC0415 (local: this file's imports are shared with other edits)
            kind = "a symlink loop" if error.errno == errno.ELOOP else "a link to nothing readable"
            return f"{path} is {kind} ({error.strerror})"
        return f"{path} cannot be read ({error.strerror})"
    return None


def input_files(settings: Settings) -> list[tuple[str, list[Path]]]:
    """(input name, files or folder found) for every input of the enabled shapes.

    A generic input is <data_dir>/<input>.csv, .csv.gz or .parquet (the
    extension in any case), or a folder <data_dir>/<input>/ of delivery
    files; another shape's tables are the files in <data_dir>/<shape>/ (which
    tables a shape needs, the build checks and names). Folders are listed,
    never globbed: a name with * ? [ ] is only itself.
    """
    def named(folder: Path, stem: str) -> list[Path]:
        found = [Path(entry.path) for entry in folder_entries(folder)
                 if delivery_kind(entry.name) in DELIVERY_KINDS
                 and entry.name[:-len(delivery_kind(entry.name)) - 1] == stem]
        if (folder / stem).is_dir() or (folder / stem).is_symlink():
            found.append(folder / stem)
        return found

    inputs: list[tuple[str, list[Path]]] = []
    for role, name in zip(("storefront", "processor", "erp"), INPUTS):
        for shape in settings.shapes.get(role) or ["generic"]:
            if shape == "generic":
                inputs.append((name, named(settings.data_dir, name)))
                continue
            folder = settings.data_dir / shape
            tables = sorted({entry.name[:-len(delivery_kind(entry.name)) - 1]
                             for entry in (folder_entries(folder) if folder.is_dir() else [])
                             if delivery_kind(entry.name) in DELIVERY_KINDS})
            if not tables:
                inputs.append((f"{shape} ({role})", []))
            for table in tables:
                inputs.append((f"{shape}/{table}", named(folder, table)))
    return list(dict(inputs).items())


def check_inputs(settings: Settings) -> list[str]:
    """Each input exists once and every file of it can be read; returns the
    ignored files (hidden, AppleDouble, not a delivery), which are listed.
    Rows are counted by the build itself (one reader, so the count is the rows
    reconciled): a source with no rows is reported stale from the build's own count."""
    problem = unreadable(settings.data_dir) if settings.data_dir.is_symlink() else None
    if problem:
        raise CheckpointError(f"data folder {problem}")
    if not settings.data_dir.is_dir():
        raise CheckpointError(f"data folder {settings.data_dir} does not exist or is not a folder")
    if not os.access(settings.data_dir, os.R_OK | os.X_OK):
        raise CheckpointError(f"data folder {settings.data_dir} is not readable")
    missing, problems, ignored = [], [], []
    for name, found in input_files(settings):
        if not found:
            shape_folder = "(" in name  # a shape's folder with no table in it
            expected = "tables (docs/inputs.md: Your data)" if shape_folder \
                else f"{name}.csv, .csv.gz or .parquet, or a folder {name}/"
            where = settings.data_dir / name.split(" ")[0] if shape_folder else settings.data_dir
            missing.append(f"{name}: no {expected} in {where}")
        elif len(found) > 1:
            problems.append(f"{name}: {' and '.join(p.name for p in found)} present; keep one")
        elif unreadable(found[0]):
            problems.append(unreadable(found[0]))
        else:
            print(f"  {printable(name)}: {printable(found[0])}")
            if found[0].is_dir():
                for entry in folder_entries(found[0]):
                    path = Path(entry.path)
                    kind = delivery_kind(entry.name)
                    if kind in DELIVERY_KINDS and unreadable(path):
                        problems.append(unreadable(path))
                    elif kind in DELIVERY_KINDS and path.is_dir():
                        problems.append(f"{path} is a folder, not a delivery file")
                    elif kind not in DELIVERY_KINDS:
                        ignored.append(str(path.relative_to(settings.data_dir)))
    if missing or problems:
        raise CheckpointError("; ".join(([f"input missing: {'; '.join(missing)}"] if missing else [])
                                        + ([f"input files: {'; '.join(problems)}"] if problems else [])))
    for name in ignored:
        print(f"  ignored: {printable(name)} (hidden, AppleDouble or not a .csv, .csv.gz or .parquet file)")
    return ignored


def input_file_list(database: Path, settings: Settings) -> list[dict[str, Any]]:
    """Every input file the build saw (the hook's refund_input_files): read,
    repeat (its content is another file's of the same input: not read) or
    ignored (hidden, AppleDouble, not a delivery file), with its md5."""
    import duckdb  # noqa: PLC0415 (local: this file's imports are shared with other edits)

    schema = settings.extra_vars.get("refund_inputs_schema") or "refund_inputs"
    with duckdb.connect(str(database), read_only=True) as con:
        if not con.execute("select count(*) from duckdb_tables() where database_name = current_database() "
                           "and schema_name = ? and table_name = 'refund_input_files'", [schema]).fetchone()[0]:
            return []
        # Catalog-qualified: a database file named like the schema
        # (refund_inputs.duckdb) makes "refund_inputs".x ambiguous.
        catalog = con.execute("select current_database()").fetchone()[0].replace('"', '""')
        cursor = con.execute(f'select * from "{catalog}"."{schema}".refund_input_files order by system_name, '
                             "input_name, file_name")
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


def publish_for_bi(settings: Settings) -> dict[str, Any]:
    """Publish the completed checkpoint's marts for BI (publish.py). Never
    raises: a failure is a warning, the checkpoint's outcome is about the data
    (DECISIONLOG "Publishing for BI")."""
    if settings.bi_dir is None:
        return {"published": False, "detail": "not published (--no-bi)"}
    try:
        result = publish.publish(settings.database, settings.bi_dir, settings.checkpoint_id, settings.as_of,
                                 keep=settings.bi_keep, manifest=settings.artifacts / "target" / "manifest.json")
        if result["current_moved"]:
            print(f"  BI: {len(result['tables'])} marts published to {result['folder']} ({result['current']} points "
                  "there)", flush=True)
        else:
            result["note"] = (f"published to {result['folder']}; {result['current']} stays on "
                              f"{result['current_target']}, a later as_of (it only moves forward)")
            print(f"  BI: {len(result['tables'])} marts {result['note']}", flush=True)
        return result
    except Exception as error:  # noqa: BLE001 (a failed publication is a warning, see the docstring)
        if settings.debug:
            traceback.print_exc()
        previous = publish.current_target(settings.bi_dir) if settings.bi_dir.is_dir() else None
        warning = (f"the marts could not be published for BI to {settings.bi_dir}: {one_line(error)}; BI tools "
                   f"still read {'the previous publication ' + previous if previous else 'nothing'}")
        print(f"  WARNING: {printable(warning)}", flush=True)
        return {"published": False, "warning": warning, "current": previous}


def webhook(settings: Settings) -> str | None:
    """The webhook URL from the environment, validated; None when unset."""
    url = os.environ.get(settings.webhook_env, "").strip()
    if not url:
        return None
    problem = webhook_url_problem(url)
    if problem:
        raise CheckpointError(f"env {settings.webhook_env} {problem} (the URL is not shown: it holds a secret)")
    return url


def deliver(settings: Settings, url: str | None, text: str, summary: dict[str, Any]) -> dict[str, Any]:
    if not url:
        print(f"  webhook: not configured (set env {settings.webhook_env} to send this message)")
        return {"channel": "webhook", "delivered": False, "detail": f"not configured (env {settings.webhook_env})"}
    result = post_json(url, slack_payload(text, summary))
    status = "delivered" if result.delivered else f"NOT delivered after {result.attempts} attempts ({result.detail})"
    print(f"  webhook {mask_url(url)}: {status}")
    return {"channel": "webhook", "endpoint": mask_url(url), "delivered": result.delivered,
            "attempts": result.attempts, "detail": result.detail}


# The marts the verdict reads (marts.read_checkpoint): the outcome and its
# rules, the open variances, the acknowledgements, the booked totals, the
# rejected rows. A checkpoint builds them, their parents and every data test
# whose models are all among these first ("verdict"), records the outcome,
# then builds everything else ("after_verdict"): the audit trail, the
# suggested matches, the expected and proposed ERP entries, and the tests
# that read one of them. The two selections are disjoint and together the
# whole build (tests/python/test_verdict_first.py).
VERDICT_MARTS = ("fct_checkpoint_runs", "fct_checkpoint_totals", "fct_refund_variances",
                 "fct_variance_acknowledgements", "fct_rejected_rows")
PHASES = ("verdict", "after_verdict")


def phase_selection(phase: str) -> list[str]:
    """dbt's selection arguments of a checkpoint phase (PHASES)."""
    parents = [f"+{name}" for name in VERDICT_MARTS]
    return ["--select" if phase == "verdict" else "--exclude", *parents, "--indirect-selection", "cautious"]


def build(settings: Settings, work: Path, phase: str, dbt: DbtSession) -> None:
    """dbt build of one phase's models and data tests into the work copy (unit tests run in CI)."""
    results = settings.artifacts / "target" / "run_results.json"
    results.unlink(missing_ok=True)   # what a failure names is this build's, never an earlier one's
    log = settings.artifacts / "logs" / "dbt.log"
    log_start = log.stat().st_size if log.exists() else 0
    # as_of goes in env REFUND_RECON_AS_OF, not --vars (macro as_of_text): dbt parses the whole
    # project again whenever a var changes, so with the clock out of the vars the checkpoints of
    # one database reuse its partial parse (settings.artifacts) while the project is unchanged.
    dbt_vars = {name: value for name, value in settings.dbt_vars().items() if name != "as_of"}
    result = dbt.run("build", "--exclude-resource-type", "unit_test", *phase_selection(phase),
                     *(["--full-refresh"] if settings.full_refresh else []),
                     database=work, dbt_vars=dbt_vars, target=settings.target,
                     artifacts=settings.artifacts, env={"REFUND_RECON_AS_OF": settings.as_of})
    if result.returncode != 0:
        nodes = failed_nodes(settings.artifacts)
        named = "; ".join(f"{node['resource_type']} {node['name']} {node['status']}"
                          + (f": {node['message']}" if node["message"] else "") for node in nodes)
        if result.returncode < 0:
            raise BuildFailed(f"the dbt process ended without a result during the {phase.replace('_', ' ')} "
                              f"build (exit {result.returncode}): killed, or out of memory (see "
                              "REFUND_RECON_DUCKDB_MEMORY_LIMIT in docs/settings.md)", [])
        raise BuildFailed(("dbt build failed" if phase == "verdict" else "dbt build after the verdict failed")
                          + f" (exit {result.returncode}): "
                          + (named or stopped_error(log, log_start)) + out_of_memory_hint(settings.artifacts), nodes)


class BuildFailed(CheckpointError):
    """dbt build failed; `nodes` are the failing nodes from run_results.json."""

    def __init__(self, text: str, nodes: list[dict[str, Any]]) -> None:
        super().__init__(text)
        self.nodes = nodes


NODE_MESSAGE_LIMIT = 300
LOG_LINE = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+ \[")


def stopped_error(log: Path, start: int) -> str:
    """Why dbt stopped before running any node (a parse or compilation error:
    no run_results.json), from this build's part of dbt.log: the lines after
    its last "Encountered an error:", without the macro call stack."""
    try:
        with log.open(encoding="utf-8", errors="replace") as handle:
            handle.seek(start if log.stat().st_size >= start else 0)
            lines = handle.read().splitlines()
    except OSError:
        lines = []
    marks = [index for index, line in enumerate(lines) if LOG_LINE.match(line) and "[error]" in line
             and line.rstrip().endswith("Encountered an error:")]
    words = []
    for line in lines[marks[-1] + 1:] if marks else []:
        if LOG_LINE.match(line):
            break
        if line.strip() and not line.strip().startswith(">"):
            words.append(" ".join(line.split()))
    text = " ".join(words)
    if len(text) > NODE_MESSAGE_LIMIT:
        text = text[:NODE_MESSAGE_LIMIT - 1] + "…"
    return (f"dbt stopped before running a node: {text}" if text
            else "dbt stopped before running a node (run_results.json has none); the dbt output above names why")


def failed_nodes(artifacts: Path) -> list[dict[str, Any]]:
    """The nodes of dbt's run_results.json (schema run-results v5/v6) that
    errored, failed or were skipped for an error: unique_id, resource type,
    name, status and dbt's message (one line, at most 300 characters)."""
    try:
        results = json.loads((artifacts / "target" / "run_results.json").read_text(encoding="utf-8"))["results"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    nodes = []
    for row in results:
        if not isinstance(row, dict) or row.get("status") not in ("error", "fail", "runtime error"):
            continue
        unique_id = str(row.get("unique_id") or "")
        text = " ".join(str(row.get("message") or "").split())
        if len(text) > NODE_MESSAGE_LIMIT:
            text = text[:NODE_MESSAGE_LIMIT - 1] + "…"
        nodes.append({"unique_id": unique_id, "resource_type": unique_id.split(".")[0] or "node",
                      "name": unique_id.split(".")[2] if unique_id.count(".") >= 2 else unique_id,
                      "status": row.get("status"), "failures": row.get("failures"), "message": text})
    return nodes


def out_of_memory_hint(artifacts: Path | None) -> str:
    """What to set when the build failed because DuckDB ran out of memory (from run_results.json), else ''."""
    results = (artifacts or PROJECT_DIR) / "target" / "run_results.json"
    try:
        failed = [r for r in json.loads(results.read_text(encoding="utf-8"))["results"] if r.get("status") == "error"]
    except (OSError, ValueError, KeyError):
        return ""
    names = [r["unique_id"].split(".")[-1] for r in failed if "out of memory" in (r.get("message") or "").lower()]
    if not names:
        return ""
    return (f". DuckDB ran out of memory in {', '.join(names)} at memory_limit {duckdb_memory_limit()}: "
            "set env REFUND_RECON_DUCKDB_MEMORY_LIMIT higher (e.g. 4GB), or REFUND_RECON_THREADS=1 "
            "to build one model at a time")


def run(settings: Settings, started: datetime, announce: Callable[[dict, list[dict], str | None], None]
        ) -> tuple[dict[str, Any], list[dict], dict[str, Any], str | None]:
    """See steps(): the same, with the dbt process closed at the end."""
    with DbtSession() as dbt:
        return steps(settings, started, announce, dbt)


def steps(settings: Settings, started: datetime, announce: Callable[[dict, list[dict], str | None], None],
          dbt: DbtSession) -> tuple[dict[str, Any], list[dict], dict[str, Any], str | None]:
    """The checkpoint under the lock: (summary, variances, report details, webhook URL).
    Raises CheckpointError (failed) or Busy before the verdict, and records a
    failed attempt itself. Once the verdict's models and tests passed, calls
    `announce` with it; nothing after that raises or changes the verdict:
    summary["after_verdict"] says how the rest went."""
    database = settings.database
    attempt = {"attempt_id": f"{settings.checkpoint_id}@{started:%Y%m%dT%H%M%S.%fZ}",
               "checkpoint_id": settings.checkpoint_id, "as_of": settings.as_of_utc, "started_at": started,
               "data_dir": str(settings.data_dir)}
    work = database.with_name(database.name + ".building")
    try:
        url = webhook(settings)
        print("[1/5] inputs present", flush=True)
        check_inputs(settings)
        store.settle(database)
        work = store.work_copy(database)
        print("[2/5] dbt build: the verdict's models and data tests (in a copy of the database)", flush=True)
        build(settings, work, "verdict", dbt)
        print("[3/5] the verdict", flush=True)
        summary, variances, details = read_checkpoint(work, settings.checkpoint_id, settings.data_dir,
                                                      settings.artifacts)
        summary["input_files"] = input_file_list(work, settings)
    except BaseException as error:
        store.discard(work)
        if isinstance(error, Busy):
            raise
        reason = one_line(error)
        try:
            store.record_attempt(database, {**attempt, "finished_at": store.now_utc(), "outcome": "failed",
                                            "exit_code": EXIT_CODES["failed"], "reason": reason})
        except Exception as failure:  # noqa: BLE001 (the record is best effort; the exit code is not)
            print(f"  (the failure could not be recorded in {database}: {one_line(failure)})")
        raise CheckpointError(reason) from error
    summary["after_verdict"] = {"outcome": "running",
                                "detail": "the audit trail, suggested matches and ERP corrections are being built"}
    announce(summary, variances, url)
    print("[4/5] dbt build after the verdict: audit trail, suggested matches, ERP corrections", flush=True)
    summary["after_verdict"] = after_verdict(settings, work, variances, details, dbt)
    reason = summary["outcome_reasons"]
    if summary["after_verdict"]["outcome"] != "completed":
        reason = f"{reason}; after the verdict: {summary['after_verdict']['error']}"
    try:
        store.record_attempt(work, {**attempt, "finished_at": store.now_utc(), "outcome": summary["outcome"],
                                    "exit_code": EXIT_CODES[summary["outcome"]], "reason": reason})
        store.publish(work, database)
    except Exception as error:  # noqa: BLE001 (after the verdict: its own line, see the docstring)
        store.discard(work)
        problem = (f"the checkpoint database could not be replaced ({one_line(error)}): it still holds the "
                   "previous checkpoint, so this verdict is in this report only")
        print(f"  AFTER THE VERDICT: FAILED: {printable(problem)}", flush=True)
        summary["after_verdict"] = {"outcome": "failed", "error": problem, "published": False}
        try:
            store.record_attempt(database, {**attempt, "finished_at": store.now_utc(), "outcome": "failed",
                                            "exit_code": EXIT_CODES["failed"],
                                            "reason": f"verdict {summary['outcome']}, then {problem}"})
        except Exception as failure:  # noqa: BLE001 (best effort, as above)
            print(f"  (the failure could not be recorded in {database}: {one_line(failure)})")
    return summary, variances, details, url


def after_verdict(settings: Settings, work: Path, variances: list[dict], details: dict[str, Any],
                  dbt: DbtSession) -> dict[str, Any]:
    """Build the rest of the project into the work copy and read what the report
    shows of it into `details`: {"outcome": "completed"}, or "failed" with the
    error and the failing nodes. Never raises: the verdict is already out."""
    try:
        build(settings, work, "after_verdict", dbt)
        details.update(read_after_verdict(work, settings.checkpoint_id,
                                          variances + (details.get("acknowledged_variances") or []),
                                          settings.artifacts))
        return {"outcome": "completed"}
    except Exception as error:  # noqa: BLE001 (reported as its own outcome line)
        if settings.debug:
            traceback.print_exc()
        result: dict[str, Any] = {"outcome": "failed", "error": one_line(error)}
        if getattr(error, "nodes", None):
            result["failed_nodes"] = error.nodes
        print(f"  AFTER THE VERDICT: FAILED: {printable(result['error'])}", flush=True)
        return result


def report_url_base_problem(base: str) -> str | None:
    """Why `base` cannot prefix the report links sent to every reader, or None.
    A link is shown in the message, the webhook and summary.json, so a base
    with credentials, a query or a fragment (where tokens live) is refused."""
    problem = webhook_url_problem(base)
    if problem:
        return problem
    parts = urlsplit(base)
    if parts.username or parts.password or "@" in parts.netloc:
        return "holds credentials"
    if parts.query or parts.fragment:
        return "holds a query or a fragment"
    return None


def one_line(error: BaseException) -> str:
    if isinstance(error, (CheckpointError, Busy)):
        return str(error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"unexpected {type(error).__name__}" + (f": {text}" if text else "")


def report_settings(settings: Settings) -> dict[str, Any]:
    """The settings a reader needs to interpret the report (never the webhook URL)."""
    return {
        "as_of": settings.as_of, "target": settings.target, "database": str(settings.database),
        "reports_dir": str(settings.reports_dir), "confirmation_sla_minutes": settings.confirmation_sla_minutes,
        "amount_tolerance": settings.amount_tolerance, "business_timezone": settings.business_timezone,
        "source_freshness_hours": settings.source_freshness_hours,
        "tolerate_amount": None if settings.tolerate_amount is None else str(settings.tolerate_amount),
        "shapes": {role: settings.shapes.get(role) or ["generic"] for role in ("storefront", "processor", "erp")},
        "extra_vars": settings.extra_vars, "full_refresh": settings.full_refresh,
        "webhook_env": settings.webhook_env,
    }


REPORTS_OWNER = ".database"


def reports_owner(settings: Settings) -> str | None:
    """The other database whose reports the folder holds, else None. The
    first checkpoint to write a reports folder records its database there
    (`.database`), so a test database's reports never mix with production's."""
    marker = settings.reports_dir / REPORTS_OWNER
    try:
        owner = marker.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        marker.write_text(str(settings.database) + "\n", encoding="utf-8")
        return None
    return owner if owner and owner != str(settings.database) else None


def checkpoint(settings: Settings) -> int:
    """Run one checkpoint and return its exit code. Every outcome but busy
    writes summary.json; every error is one line and exit 3 (a traceback with
    --debug), an error in writing the report or the message included."""
    try:
        return checkpoint_steps(settings)
    except Exception as error:  # noqa: BLE001 (any error left is a failed checkpoint, said in one line)
        if settings.debug:
            traceback.print_exc()
        print(f"FAILED: {printable(one_line(error))}")
        return EXIT_CODES["failed"]


def checkpoint_steps(settings: Settings) -> int:
    started = store.now_utc()
    print(f"Checkpoint {settings.checkpoint_id}: data {settings.data_dir}, database {settings.database}", flush=True)
    try:
        settings.reports_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.reports_dir / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        print(f"FAILED: reports folder {settings.reports_dir} is not writable: {error.strerror or error}. "
              "Nothing was changed.")
        return EXIT_CODES["failed"]
    owner = reports_owner(settings)
    if owner is not None:
        print(f"FAILED: reports folder {settings.reports_dir} holds the reports of the checkpoint database "
              f"{printable(owner)}, not of {settings.database}: give this database its own --reports-dir (or delete "
              f"{settings.reports_dir / REPORTS_OWNER} to hand the folder over). Nothing was changed.")
        return EXIT_CODES["failed"]
    variances: list[dict] = []
    details: dict[str, Any] = {}
    announced: dict[str, Any] = {}

    def announce(verdict: dict[str, Any], open_variances: list[dict], url: str | None) -> None:
        announced.update(summary=verdict, url=url)
        announce_verdict(settings, verdict, open_variances, url, started_clock)

    started_clock = time.monotonic()
    try:
        with store.exclusive(settings.database):
            summary, variances, details, url = run(settings, started, announce)
            if summary["after_verdict"]["outcome"] == "completed":
                summary["bi"] = publish_for_bi(settings)
            else:
                summary["bi"] = {"published": False, "detail": "not published: the marts after the verdict did not "
                                 "build; BI tools still read the previous publication"}
    except Busy as busy:
        print(f"BUSY: {busy}. Nothing was changed; run again when it has finished.")
        return EXIT_CODES["busy"]
    except (CheckpointError, Exception) as error:  # noqa: BLE001 (every error is a failed checkpoint)
        if settings.debug:
            traceback.print_exc()
        if announced:  # after the verdict (a defect if it gets here): its own line, the verdict stands
            summary, url = announced["summary"], announced["url"]
            summary["after_verdict"] = {"outcome": "failed", "error": one_line(error)}
        else:
            summary = {"checkpoint_id": settings.checkpoint_id, "as_of": settings.as_of, "outcome": "failed",
                       "error": one_line(error), "data_dir": str(settings.data_dir)}
            nodes = getattr(error, "nodes", None) or getattr(error.__cause__, "nodes", None)
            if nodes:
                summary["failed_nodes"] = nodes
            print(f"FAILED: {printable(summary['error'])}")
            try:
                url = webhook(settings)  # a failed checkpoint is announced too
            except CheckpointError:
                url = None  # the URL itself is what failed; its problem is the message
            announce_verdict(settings, summary, variances, url, started_clock)
    outcome = summary["outcome"]
    code = EXIT_CODES[outcome]
    print("[5/5] report", flush=True)
    follow_up = after_verdict_text(summary)
    if follow_up:
        print("\n" + follow_up + "\n")
        summary["message"] += "\n" + follow_up
        summary["deliveries"].append(deliver(settings, url, follow_up, summary))
    folder = report_folder(settings, summary)
    try:
        written = write_report_folder(settings.reports_dir, folder, summary, variances, VARIANCE_COLUMNS, details)
        print(f"  reports: {written}/report.html, audit.html, variances.csv, rejected_rows.csv, corrections.csv, "
              "summary.json")
    except Exception as error:  # noqa: BLE001
        if settings.debug:
            traceback.print_exc()
        print(f"FAILED: the report files could not be written to {settings.reports_dir / folder}: "
              f"{printable(one_line(error))} (the checkpoint itself completed as {outcome} and is recorded)")
        return EXIT_CODES["failed"]
    if summary.get("within_tolerance"):
        print(f"Every open variance is within --tolerate-amount {settings.tolerate_amount}: exit 0.")
        code = 0
    print(f"Outcome: {outcome} (exit {code})")
    return code


def report_folder(settings: Settings, summary: dict[str, Any]) -> str:
    return settings.checkpoint_id + ("-failed" if summary["outcome"] == "failed" else "")


def announce_verdict(settings: Settings, summary: dict[str, Any], variances: list[dict], url: str | None,
                     started_clock: float) -> None:
    """Record the verdict as soon as it is known: the message on the terminal
    and the webhook, and summary.json in the report folder (the whole folder
    follows when the checkpoint ends; its summary.json keeps this outcome)."""
    outcome = summary["outcome"]
    folder = report_folder(settings, summary)
    summary["settings"] = report_settings(settings)
    summary["report_path"] = str(settings.reports_dir / folder / "report.html")
    base = os.environ.get(REPORT_URL_ENV, "").strip()
    problem = report_url_base_problem(base) if base else None
    if problem:
        warning = f"env {REPORT_URL_ENV} {problem}: no report link is given (the value is not shown)"
        summary.setdefault("warnings", []).append(warning)
        print(f"  WARNING: {warning}", flush=True)
    elif base:
        summary["report_url"] = f"{base.rstrip('/')}/{folder}/report.html"
    if outcome == "variances_found" and settings.tolerate_amount is not None:
        summary["within_tolerance"] = within_tolerance(summary, variances, settings.tolerate_amount)
    code = 0 if summary.get("within_tolerance") else EXIT_CODES[outcome]
    seconds = round(time.monotonic() - started_clock, 1)
    print(f"Verdict: {outcome} (exit {code}), {seconds} s after the checkpoint started", flush=True)
    text = message(summary, variances)
    print("\n" + text + "\n")
    summary["message"] = text
    summary["deliveries"] = [{"channel": "terminal", "delivered": True}]
    if outcome != "failed":   # recorded before it is sent, and again with the webhook's answer
        write_verdict(settings.reports_dir / folder, summary)
    summary["deliveries"].append(deliver(settings, url, text, summary))
    if outcome != "failed":
        write_verdict(settings.reports_dir / folder, summary)


def write_verdict(folder: Path, summary: dict[str, Any]) -> None:
    """summary.json as it is at the verdict (after_verdict: running), written whole (a temporary file renamed).
    A failure is a warning: the whole report folder is written at the end, and its failure is the exit code."""
    partial = folder / f".summary.json.partial-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(partial, summary)
        os.replace(partial, folder / "summary.json")
    except OSError as error:
        partial.unlink(missing_ok=True)
        print(f"  WARNING: summary.json could not be written at the verdict: {printable(one_line(error))}")


def after_verdict_text(summary: dict[str, Any]) -> str | None:
    """The checkpoint's second message, only when something after the verdict
    went wrong: which part, and that the verdict stands."""
    lines = []
    after = summary.get("after_verdict") or {}
    if after.get("outcome") not in (None, "completed"):
        lines.append(f"After the verdict: FAILED: {printable(after.get('error') or after.get('detail') or '')}. "
                     "This checkpoint's audit trail, suggested matches and proposed corrections are not in its "
                     "report; the verdict above stands.")
    warning = (summary.get("bi") or {}).get("warning")
    if warning:
        summary.setdefault("warnings", []).append(warning)
        lines.append(f"Warning: {printable(warning)}.")
    if not lines:
        return None
    return f"Checkpoint {summary['checkpoint_id']}, after its verdict ({summary['outcome']}):\n" + "\n".join(lines)
