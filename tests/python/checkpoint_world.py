"""A world of daily deliveries and checkpoints, and the oracle that says what
each checkpoint must leave behind.

The world writes delivery files (one folder per input, one file per delivery,
as batch exports land), runs the real runner (scripts/checkpoint.py) against
one checkpoint database, and after every run checks:

- marts: every mart equals a fresh full build over the same files at the same
  as_of (a separate database, plain `dbt run`), except the columns that are
  history by design (when a variance was first seen);
- history: fct_variance_history and fct_checkpoint_runs equal what the
  sequence of completed checkpoints implies (modelled here from the rules in
  README "Outcomes", not read back from the code): a delivery is new when its
  content (md5) is, whatever its name, and a stale checkpoint carries the
  previous open variances forward unchanged;
- outcome and exit code follow the rules; a failed or killed checkpoint
  changes nothing a later checkpoint or a BI tool reads.

Used by test_checkpoint_sequences.py (explicit sequences, one per reported
fault) and test_checkpoint_state_machine.py (a hypothesis state machine).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from conftest import INPUT_COLUMNS, PROJECT_DIR


from compare_builds import differences
from dbt_in_process import run_dbt_in_process

EXIT_CODES = {"clean": 0, "variances_found": 1, "stale_sources": 2, "failed": 3, "busy": 4}
SYSTEMS = {"storefront": "storefront_refunds", "processor": "processor_refunds", "erp": "erp_refund_postings"}
FRESHNESS_HOURS = 24
START = datetime(2026, 3, 1)
# The tables a checkpoint publishes (the runner's own log is not one of them).
# The start of a macOS AppleDouble file (magic 0x00051607, version 2, "Mac OS X"
# filler; RFC 1740 appendix B, Apple's AppleSingle/AppleDouble format).
APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\x00\x00\x00\x09"
PUBLISHED = ("fct_refund_variances", "fct_variance_history", "fct_checkpoint_runs", "fct_rejected_rows",
             "rpt_refund_reconciliation", "fct_expected_erp_postings")


# Edits of refund_status_map.csv a state-machine step may make (old line, new
# line; an empty old line appends) and the oracle's rule for each: True when
# the mapping contracts must fail the build (a documented settled status mapped
# to anything but a final succeeded), False when the edit is harmless here.
STATUS_MAP_EDITS = {
    "settled_to_pending": ("processor,stripe,succeeded,succeeded,true", "processor,stripe,succeeded,pending,false", True),
    "settled_not_final": ("processor,stripe,succeeded,succeeded,true", "processor,stripe,succeeded,succeeded,false",
                          True),
    "unused_row": ("", "processor,stripe,refund_on_hold,pending,false", False),
}
# The columns of int_input_rows that are a row's content (macro input_row_content_hash).
CONTENT_COLUMNS = ("record_id", "order_id", "processor_refund_id", "product_name", "raw_status", "recorded_at",
                   "received_at", "amount_text", "currency", "rejection_reason")
CONTRACT_TESTS = ("assert_settled_statuses_map_to_succeeded", "refund_status_map_is_final_exactly_for_final_statuses")


def project_copy(target: Path, edits: dict[str, tuple[str, str]]) -> Path:
    """The project without its data and artifacts, each seed edited (old line -> new line;
    an empty old line appends)."""
    shutil.copytree(PROJECT_DIR, target, ignore=shutil.ignore_patterns(
        ".venv", ".git", "target", "logs", "reports", "*.duckdb*", "data", "bi", "benchmarks", "docs", "python", "fixtures",
        "__pycache__"))
    for seed, (old, new) in edits.items():
        path = target / "seeds" / seed
        text = path.read_text(encoding="utf-8")
        if old:
            assert old + "\n" in text, (seed, old)
            text = text.replace(old + "\n", (new + "\n") if new else "")
        else:
            text += new + "\n"
        path.write_text(text, encoding="utf-8")
    return target


# dbt's saved parse of a World's two builds, the runner's (its database's artifacts) and the
# oracle's (fresh_build), each with the project folder it was made from
# (recon_runner.dbt.keep_parse_of_this_project): world_folder keeps them when it empties a World's folder.
SAVED_PARSES = tuple(f"{folder}/target/partial_parse.{kind}"
                     for folder in ("checkpoints.duckdb.dbt", "fresh_building") for kind in ("msgpack", "project"))


def world_folder(base: Path) -> Path:
    """The folder of a new World: `base`/world, emptied but for dbt's saved parses (SAVED_PARSES).

    dbt reuses its saved parse only when the database path, the target folder and the vars (the
    data folder among them) are those it was saved with; in a new folder each World's first
    checkpoint and first fresh build parsed the whole project, about 3.3 CPU-seconds each. With
    `base` a pytest worker's base temp (fixture world_root), every World of the worker is built in
    this one folder: the first parses in full, the later ones as a user's later checkpoints on
    one database do (dbt still parses again whatever changed: a project copy, an edited seed,
    other vars). The folder holds the last World's files only: run a failing test alone to keep
    them."""
    root = base / "world"
    kept = {name: (root / name).read_bytes() for name in SAVED_PARSES if (root / name).is_file()}
    if root.exists():   # an error here, never an earlier World's files left in a new one
        shutil.rmtree(root)
    for name, content in kept.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    root.mkdir(parents=True, exist_ok=True)
    return root


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Recorded:
    """What the oracle says a completed checkpoint recorded."""
    as_of: datetime
    open: dict[str, datetime]            # variance_id -> first_detected_at
    resolved: dict[str, datetime]        # variance_id -> first_detected_at
    rows_read: dict[str, int]
    latest: dict[str, datetime | None]
    outcome: str
    distinct: dict[str, int] = field(default_factory=dict)        # system -> rows of distinct content read
    contents: dict[str, set[str]] = field(default_factory=dict)   # system -> md5 of each file read


@dataclass
class World:
    root: Path
    deliveries: int = 0
    refunds: int = 0
    latest_as_of: datetime | None = None
    recorded: dict[datetime, Recorded] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    data_name: str = "data"   # the data folder's name (it may hold * ? [ ])
    sent: dict[int, dict[str, Path]] = field(default_factory=dict)   # delivery -> input -> file
    project: Path = PROJECT_DIR   # a copy once a mapping seed is edited (edit_mapping)
    contract_broken: bool = False   # the seeds as edited must fail the build's mapping contracts
    mapping_edits: int = 0   # a fresh build is of the seeds as they are now

    def __post_init__(self) -> None:
        self.data = self.root / self.data_name
        self.database = self.root / "checkpoints.duckdb"
        self.reports = self.root / "reports"
        for name in SYSTEMS.values():
            (self.data / name).mkdir(parents=True, exist_ok=True)

    # ---- deliveries -------------------------------------------------------

    def refund_rows(self, day: datetime, *, erp_amount: str | None = None, erp_reason: str = "RC-DMG",
                    with_erp: bool = True, erp_received: datetime | None = None,
                    status: str = "succeeded") -> dict[str, list[list[str]]]:
        """One refund created at `day` in all three systems (clean unless told)."""
        self.refunds += 1
        name = f"{self.refunds:04d}"
        created, confirmed = day, day + timedelta(minutes=1)
        received = erp_received or day + timedelta(minutes=5)
        amount = f"{10 + self.refunds}.00"
        rows: dict[str, list[list[str]]] = {
            "storefront": [[f"sr_{name}", f"ord_{name}", f"re_{name}", amount, "USD", "full", "damaged", status,
                            stamp(created), stamp(confirmed), "online", "generic"]],
            "processor": [[f"re_{name}", "stripe", f"ch_{name}", f"ord_{name}", amount, "USD", "pending", "",
                           stamp(created), stamp(created)],
                          [f"re_{name}", "stripe", f"ch_{name}", f"ord_{name}", amount, "USD", status, "",
                           stamp(created), stamp(confirmed)]],
            "erp": [],
        }
        if with_erp and status == "succeeded":
            rows["erp"].append([f"CR-{name}", f"re_{name}", f"ord_{name}", "4900", erp_amount or amount, "USD",
                                erp_reason, "full", stamp(received), stamp(received), received.strftime("%Y-%m")])
        return rows

    def file_name(self, number: int, style: str = "plain") -> str:
        """A delivery file's name: plain delivery_007.csv, or a variant a sender
        may use (docs/running.md "Delivery files")."""
        return {"plain": f"delivery_{number:03d}.csv", "upper": f"DELIVERY_{number:03d}.CSV",
                "brackets": f"delivery[{number:03d}].csv", "wildcards": f"delivery_*{number:03d}?.csv",
                "gzip": f"delivery_{number:03d}.csv.gz"}[style]

    def write_delivery(self, path: Path, header: list[str], rows: list[list[str]]) -> None:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        data = buffer.getvalue().encode("utf-8")
        # mtime=0: the same rows gzipped twice are the same bytes
        path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
        if path.name != path.name.lower() or "[" in path.name:
            # macOS copies leave an AppleDouble file beside (binary, not a CSV): ignored
            (path.parent / f"._{path.name}").write_bytes(APPLE_DOUBLE)

    def deliver(self, parts: list[dict[str, list[list[str]]]], systems: tuple[str, ...] = tuple(SYSTEMS),
                bad_row_first: bool = False, style: str = "plain") -> None:
        """One delivery file per system in `systems`, holding the rows of `parts`.
        bad_row_first: the first data row of each file is unreadable (no id), at
        the same row number in every delivery. style: the file name (file_name)."""
        self.deliveries += 1
        for system in systems:
            rows = [row for part in parts for row in part.get(system, [])]
            if bad_row_first:
                header = INPUT_COLUMNS[SYSTEMS[system]]
                bad = ["" for _ in header]
                bad[header.index("amount")] = "1.00"
                rows.insert(0, bad)
            path = self.data / SYSTEMS[system] / self.file_name(self.deliveries, style)
            self.write_delivery(path, INPUT_COLUMNS[SYSTEMS[system]], rows)
            self.sent.setdefault(self.deliveries, {})[SYSTEMS[system]] = path
        self.log.append(f"deliver {self.deliveries} {systems} {len(parts)} refunds bad={bad_row_first} {style}")

    def repeat_last_delivery(self) -> None:
        """The latest delivery file of each input again, under the next delivery's name."""
        self.resend(self.deliveries)

    def resend(self, number: int, style: str = "plain") -> None:
        """Delivery `number`'s files of each input again (the same bytes), under
        the next delivery's name in `style`: a re-sent file, nothing new."""
        self.deliveries += 1
        for name, path in self.sent.get(number, {}).items():
            target = self.file_name(self.deliveries, style)
            if path.name.endswith(".gz") != target.endswith(".gz"):  # keep the bytes: gzip stays gzip
                target = target + ".gz" if path.name.endswith(".gz") else target[:-len(".gz")]
            shutil.copyfile(path, self.data / name / target)
            self.sent.setdefault(self.deliveries, {})[name] = self.data / name / target
        self.log.append(f"resend delivery {number} as delivery {self.deliveries} ({style})")

    def reexport(self, number: int, systems: tuple[str, ...] = tuple(SYSTEMS)) -> None:
        """Delivery `number`'s rows of each system in `systems` exported again in new bytes (line
        endings \\n where the first export wrote \\r\\n, gzip where it was plain and plain where it
        was gzip) under the next delivery's name: new files, the same rows, nothing new."""
        self.deliveries += 1
        for system in systems:
            name = SYSTEMS[system]
            path = self.sent.get(number, {}).get(name)
            if path is None:
                continue
            data = path.read_bytes()
            text = (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8")
            buffer = io.StringIO(newline="")
            csv.writer(buffer, lineterminator="\n").writerows(csv.reader(io.StringIO(text, newline="")))
            again = buffer.getvalue().encode("utf-8")
            target = self.data / name / self.file_name(self.deliveries, "plain" if path.name.endswith(".gz")
                                                       else "gzip")
            target.write_bytes(again if path.name.endswith(".gz") else gzip.compress(again, mtime=0))
            assert hashlib.md5(target.read_bytes()).digest() != hashlib.md5(data).digest()
            self.sent.setdefault(self.deliveries, {})[name] = target
        self.log.append(f"re-export delivery {number} as delivery {self.deliveries} {systems}")

    def edit_mapping(self, kind: str) -> None:
        """One edit of refund_status_map.csv (STATUS_MAP_EDITS), or `restore`,
        in the World's own copy of the project: each applies to the original
        seed, so the seeds carry at most one edit at a time."""
        if self.project == PROJECT_DIR:
            self.project = project_copy(self.root / "project", {})
        original = (PROJECT_DIR / "seeds" / "refund_status_map.csv").read_text(encoding="utf-8")
        text, self.contract_broken = original, False
        if kind != "restore":
            old, new, self.contract_broken = STATUS_MAP_EDITS[kind]
            text = text.replace(old + "\n", new + "\n") if old else text + new + "\n"
            assert text != original, kind
        (self.project / "seeds" / "refund_status_map.csv").write_text(text, encoding="utf-8")
        self.mapping_edits += 1
        self.log.append(f"mapping edit {kind}")

    # ---- running ----------------------------------------------------------

    def run(self, as_of: datetime, *extra: str, data_dir: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        self.log.append(f"checkpoint {stamp(as_of)} {' '.join(extra)}")
        return subprocess.run(
            [sys.executable, str(self.runner), "run", "--data-dir", str(data_dir or self.data), "--as-of",
             stamp(as_of), "--database", str(self.database), "--reports-dir", str(self.reports), *extra],
            cwd=self.project, capture_output=True, text=True, timeout=900,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **(env or {})},
        )

    def snapshot(self) -> dict[str, list]:
        """Every published table, as sorted rows (empty before the first checkpoint)."""
        if not self.database.exists():
            return {}
        with duckdb.connect(str(self.database), read_only=True) as con:
            names = {name for (name,) in con.execute("select table_name from duckdb_tables()").fetchall()}
            return {table: sorted(map(repr, con.execute(f"select * from {table}").fetchall()))
                    for table in PUBLISHED if table in names}

    def fresh_build(self, as_of: datetime) -> Path:
        """The oracle's marts: a full build of seeds and models over the same files, in a new database.
        Each is built in the same place with the same vars and then moved, as_of in env
        REFUND_RECON_AS_OF as the runner passes it: dbt parses the whole project again when a var,
        the database path or the target folder changes, and the parse is half a build's CPU here.
        Nothing reads this build's manifest.json, run_results.json or debug log: none is written
        (dbt still writes the partial parse the next fresh build reuses): 0.8 of its 4.6 CPU-seconds."""
        database = self.root / f"fresh_{stamp(as_of)}_{self.deliveries}_{self.mapping_edits}" / "fresh.duckdb"
        if not database.exists():
            building = self.root / "fresh_building" / "fresh.duckdb"
            building.parent.mkdir(parents=True, exist_ok=True)
            building.unlink(missing_ok=True)
            result = run_dbt_in_process(
                "build", "--resource-type", "seed", "--resource-type", "model", "--no-write-json",
                "--log-level-file", "none",
                database=building, artifacts=self.root / "fresh_building", target="duckdb", project_dir=self.project,
                dbt_vars={"data_dir": str(self.data), "source_freshness_hours": FRESHNESS_HOURS},
                env={"REFUND_RECON_AS_OF": stamp(as_of)})
            assert result.returncode == 0, result.stdout[-3000:]
            database.parent.mkdir(parents=True, exist_ok=True)
            building.rename(database)
        return database

    @property
    def runner(self) -> Path:
        return self.project / "scripts" / "checkpoint.py"

    def has_every_input(self) -> bool:
        contents = self.contents()
        return all(contents[system] for system in SYSTEMS)

    def checkpoint(self, as_of: datetime, expect_failure: bool = False,
                   tolerate: Decimal | None = None) -> subprocess.CompletedProcess:
        """Run a checkpoint (with --tolerate-amount `tolerate`, when given) and
        check everything the oracle says about it. An input with no delivery
        file yet is a missing input: failed."""
        contract = self.contract_broken and self.has_every_input()
        expect_failure = expect_failure or not self.has_every_input() or self.contract_broken
        before = self.snapshot()
        result = self.run(as_of, *(["--tolerate-amount", str(tolerate)] if tolerate is not None else []))
        output = result.stdout[-3000:] + result.stderr[-2000:]
        if expect_failure:
            assert result.returncode == EXIT_CODES["failed"], output
            assert self.snapshot() == before, "a failed checkpoint changed what readers see"
            summary = json.loads((self.reports / f"{cp_id(as_of)}-failed" / "summary.json").read_text())
            assert summary["outcome"] == "failed" and summary["error"]
            if contract:  # the failure names the mapping contract the seeds break
                assert any(name in summary["error"] for name in CONTRACT_TESTS), (summary["error"], self.log)
            return result
        fresh = self.fresh_build(as_of)
        expected = self.expect(as_of, fresh)
        expected_code = EXIT_CODES[expected.outcome]
        if tolerate is not None and expected.outcome == "variances_found" and self.tolerated(fresh, tolerate):
            expected_code = 0  # recorded as variances_found, exit 0 (README: Outcomes)
        assert result.returncode == expected_code, (expected.outcome, expected_code, output, self.log)
        differ = {name: figures for name, figures in differences(str(self.database), str(fresh)).items()
                  if figures[1] or figures[2]}
        assert not differ, (differ, self.log)
        self.recorded[as_of] = expected
        self.check_history()
        summary = json.loads((self.reports / cp_id(as_of) / "summary.json").read_text())
        assert summary["outcome"] == expected.outcome
        assert (self.reports / cp_id(as_of) / "report.html").exists()
        self.latest_as_of = max(filter(None, [self.latest_as_of, as_of]))
        return result

    def expect(self, as_of: datetime, fresh: Path) -> Recorded:
        """The oracle: what a completed checkpoint at as_of must record."""
        with duckdb.connect(str(fresh), read_only=True) as con:
            variances = [row[0] for row in con.execute(
                "select variance_id from main_intermediate.int_refund_variances_detected").fetchall()]
            rejected = con.execute("select count(*) from fct_rejected_rows").fetchone()[0]
            # an active acknowledgement (seed variance_acknowledgements) takes a variance out of the
            # outcome, not out of the history; its state depends on the variance, the seed and as_of only
            acknowledged = {row[0] for row in con.execute(
                "select variance_id from fct_refund_variances where is_acknowledged").fetchall()}
            rows_read, latest = {}, {}
            for system, model, column in (("storefront", "stg_storefront__refunds", "recorded_at"),
                                          ("processor", "stg_processor__refund_events", "event_at"),
                                          ("erp", "stg_erp__refund_postings", "received_at")):
                rows_read[system], latest[system] = con.execute(
                    f"select count(*), max(case when is_accepted then {column} end) from main_staging.{model}"
                ).fetchone()
            # a row's content: what staging read of it, not its file or row number (docs/running.md
            # "What makes a delivery new")
            content = ", ".join(f"coalesce(cast({column} as varchar), '')" for column in CONTENT_COLUMNS)
            distinct = dict(con.execute(
                f"select system_name, count(distinct ({content})) "
                "from main_intermediate.int_input_rows group by system_name").fetchall())
        earlier = [moment for moment in self.recorded if moment < as_of]
        previous = self.recorded[max(earlier)] if earlier else None
        previously_open = previous.open if previous else {}
        contents = self.contents()
        stale = False
        for system in SYSTEMS:
            seen = set().union(*(self.recorded[moment].contents.get(system, set()) for moment in earlier))
            if rows_read[system] == 0 or latest[system] is None:
                stale = True
            elif latest[system] < as_of - timedelta(hours=FRESHNESS_HOURS):
                stale = True
            elif previous and not contents[system] - seen:  # no file whose content is new, under any name
                stale = True
            elif previous and previous.latest[system] is not None and (
                    distinct.get(system, 0) <= previous.distinct.get(system, 0)
                    and latest[system] <= previous.latest[system]):
                stale = True   # new files, but no row of new content and no newer record
        if stale:  # a stale checkpoint changes no variance's state or age
            opened, resolved = dict(previously_open), {}
        else:
            opened = {v: previously_open.get(v, as_of) for v in variances}
            resolved = {v: first for v, first in previously_open.items() if v not in opened}
        outcome = "stale_sources" if stale else ("variances_found" if set(variances) - acknowledged or rejected
                                                 else "clean")
        return Recorded(as_of, opened, resolved, rows_read, latest, outcome, distinct, contents)

    @staticmethod
    def tolerated(fresh: Path, tolerance: Decimal) -> bool:
        """The tolerance rule, from the fresh build: no rejected row, and every
        variance an amount difference (an amount_mismatch, or a collapsed
        partial refund whose ERP posting is there) within `tolerance`; a
        missing, duplicate, status, period, reason or currency variance never is."""
        with duckdb.connect(str(fresh), read_only=True) as con:
            if con.execute("select count(*) from fct_rejected_rows").fetchone()[0]:
                return False
            variances = con.execute("select variance_type, amount_delta, erp_amount from fct_refund_variances").fetchall()
        return all(
            (kind == "amount_mismatch" or (kind == "partial_refund_collapsed" and erp is not None))
            and delta is not None and abs(Decimal(str(delta))) <= tolerance
            for kind, delta, erp in variances)

    def contents(self) -> dict[str, set[str]]:
        """The md5 of every delivery file of each system (docs/running.md "Delivery files"):
        a .csv, .csv.gz or .parquet file in any case, not hidden."""
        result = {}
        for system, name in SYSTEMS.items():
            folder = self.data / name
            result[system] = {hashlib.md5(path.read_bytes()).hexdigest() for path in folder.iterdir()
                              if not path.name.startswith(".")
                              and path.name.lower().endswith((".csv", ".csv.gz", ".parquet"))}
        return result

    def check_history(self) -> None:
        with duckdb.connect(str(self.database), read_only=True) as con:
            history = sorted(con.execute(
                "select checkpoint_as_of, variance_id, state, first_detected_at from fct_variance_history").fetchall())
            runs = sorted(con.execute("select as_of, outcome from fct_checkpoint_runs").fetchall())
        expected = sorted(
            [(r.as_of, v, "open", first) for r in self.recorded.values() for v, first in r.open.items()]
            + [(r.as_of, v, "resolved", first) for r in self.recorded.values() for v, first in r.resolved.items()])
        assert history == expected, (self.log, [h for h in history if h not in expected][:5],
                                     [e for e in expected if e not in history][:5])
        assert runs == sorted((r.as_of, r.outcome) for r in self.recorded.values()), (runs, self.log)

    # ---- failures -----------------------------------------------------------

    def failed_checkpoint(self, as_of: datetime) -> subprocess.CompletedProcess:
        """A checkpoint whose ERP input is missing: exit 3, nothing changed."""
        erp = self.data / SYSTEMS["erp"]
        hidden = self.root / "erp_hidden"
        erp.rename(hidden)
        try:
            return self.checkpoint(as_of, expect_failure=True)
        finally:
            hidden.rename(erp)

    def killed_checkpoint(self, as_of: datetime, after_seconds: float = 3.0) -> None:
        """A checkpoint killed (SIGKILL, the whole process group) during its build."""
        before = self.snapshot()
        self.log.append(f"kill {stamp(as_of)} after {after_seconds}s")
        process = subprocess.Popen(
            [sys.executable, str(self.runner), "run", "--data-dir", str(self.data), "--as-of", stamp(as_of),
             "--database", str(self.database), "--reports-dir", str(self.reports)],
            cwd=self.project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        building = self.database.with_name(self.database.name + ".building")
        deadline = time.monotonic() + 60
        while process.poll() is None and not building.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(after_seconds)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        else:  # it ended first: only a failure may end that fast
            assert process.returncode == EXIT_CODES["failed"], "a checkpoint completed before it could be killed"
        assert self.snapshot() == before, "a killed checkpoint changed what readers see"
        announced = self.reports / cp_id(as_of) / "summary.json"
        if announced.exists():   # killed after its verdict: said so, and the database is unchanged
            assert json.loads(announced.read_text())["after_verdict"]["outcome"] == "running"


def cp_id(as_of: datetime) -> str:
    return "cp_" + as_of.strftime("%Y%m%dT%H%M%SZ")
