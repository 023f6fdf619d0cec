"""The runner's error paths: every error is exit 3 (failed) with one line
naming what and where, busy is 4, a usage error 64; the webhook URL is
checked before the build and never printed; summary.json is written for a
failed checkpoint too; a plain `dbt build` writes the development database,
not the finance history (issue 13, observations 7, 8 and 11).

These fail before dbt starts, so each takes about a second (but one: the
out-of-memory test runs a real build, about 30 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import duckdb
import pytest

from conftest import PROJECT_DIR

RUNNER = PROJECT_DIR / "scripts" / "checkpoint.py"
SAMPLE = PROJECT_DIR / "data" / "sample"
AS_OF = "2026-03-01T00:00:00Z"


def runner(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if not key.startswith("REFUND_RECON_")}
    command = [sys.executable, str(RUNNER), "run", "--as-of", AS_OF, *args]
    if "--database" not in args:
        command += ["--database", str(tmp_path / "recon.duckdb")]
    if "--reports-dir" not in args:
        command += ["--reports-dir", str(tmp_path / "reports")]
    return subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
                          env={**base, **(env or {})})


def one_failure_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("FAILED:")]
    assert len(lines) == 1, result.stdout
    return lines[0]


def test_a_missing_data_folder_is_a_failed_checkpoint(tmp_path: Path) -> None:
    result = runner(tmp_path, "--data-dir", str(tmp_path / "nowhere"))
    assert result.returncode == 3
    assert f"data folder {tmp_path / 'nowhere'} does not exist" in one_failure_line(result)
    summary = json.loads((tmp_path / "reports" / "cp_20260301T000000Z-failed" / "summary.json").read_text())
    assert summary["outcome"] == "failed" and "does not exist" in summary["error"]
    assert not (tmp_path / "recon.duckdb.building").exists()


def test_an_unusable_database_folder_is_a_failed_checkpoint(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = runner(tmp_path, "--data-dir", str(SAMPLE), "--database", str(blocker / "recon.duckdb"))
    assert result.returncode == 3
    assert "lock file" in one_failure_line(result) and str(blocker) in one_failure_line(result)


def test_an_unwritable_reports_folder_is_a_failed_checkpoint(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = runner(tmp_path, "--data-dir", str(SAMPLE), "--reports-dir", str(blocker / "reports"))
    assert result.returncode == 3
    assert "reports folder" in one_failure_line(result) and "Nothing was changed" in result.stdout
    if (tmp_path / "recon.duckdb").exists():  # the failed attempt may be recorded; no mart is
        with duckdb.connect(str(tmp_path / "recon.duckdb"), read_only=True) as con:
            assert not con.execute("select count(*) from duckdb_tables() where table_name = 'fct_refund_variances'"
                                   ).fetchone()[0]


@pytest.mark.parametrize("args", [["--as-of", "yesterday"], ["--no-such-flag"], ["--sla-minutes", "-5"],
                                  ["--tolerate-amount", "NaN"], ["--as-of", "2026-03-01T00:00:00+02:00"],
                                  ["--target", "postgres"]])
def test_usage_errors_exit_64(tmp_path: Path, args: list[str]) -> None:
    result = runner(tmp_path, *args)
    assert result.returncode == 64, result.stderr
    assert "usage error" in result.stderr and "Traceback" not in result.stderr


def test_a_process_writing_the_database_makes_the_checkpoint_busy(tmp_path: Path) -> None:
    database = tmp_path / "recon.duckdb"
    with duckdb.connect(str(database)) as writer:
        writer.execute("create table held as select 1 as x")
        result = runner(tmp_path, "--data-dir", str(SAMPLE))
    assert result.returncode == 4, result.stdout[-2000:]
    assert "BUSY: another process holds" in result.stdout and "Traceback" not in result.stdout
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_tables()").fetchone()[0] == 1


@pytest.mark.parametrize("url", ["hooks.example.com/services/T0/B0/Xq9-t0ken",
                                 "https://hooks.example.com/services/T0/B0/Xq9 t0ken",
                                 "https://hooks.example.com:99999/services/Xq9-t0ken",
                                 "ftp://hooks.example.com/Xq9-t0ken"])
def test_a_malformed_webhook_url_fails_before_the_build_and_is_never_printed(tmp_path: Path, url: str) -> None:
    result = runner(tmp_path, "--data-dir", str(SAMPLE), env={"REFUND_RECON_WEBHOOK_URL": url})
    assert result.returncode == 3
    line = one_failure_line(result)
    assert "REFUND_RECON_WEBHOOK_URL" in line
    folder = tmp_path / "reports" / "cp_20260301T000000Z-failed"
    everything = result.stdout + result.stderr + "".join(p.read_text() for p in folder.iterdir())
    assert "Xq9" not in everything and "hooks.example.com" not in everything
    assert json.loads((folder / "summary.json").read_text())["outcome"] == "failed"
    # Nothing was built; the attempt is logged with its reason (and no URL).
    with duckdb.connect(str(tmp_path / "recon.duckdb"), read_only=True) as con:
        assert [name for (name,) in con.execute("select table_name from duckdb_tables()").fetchall()] == [
            "checkpoint_attempts"]
        reason = con.execute("select outcome, reason from checkpoint_attempts").fetchone()
    assert reason[0] == "failed" and "REFUND_RECON_WEBHOOK_URL" in reason[1] and "Xq9" not in reason[1]


def test_an_unexpected_error_is_failed_not_variances_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    from recon_runner import cli, store

    def broken(database: Path) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(store, "settle", broken)
    argv = ["run", "--as-of", AS_OF, "--data-dir", str(SAMPLE), "--database", str(tmp_path / "recon.duckdb"),
            "--reports-dir", str(tmp_path / "reports")]
    assert cli.main(argv) == 3
    out = capsys.readouterr().out
    assert "FAILED: unexpected ZeroDivisionError: division by zero" in out and "Traceback" not in out
    assert cli.main([*argv, "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_a_plain_dbt_build_writes_the_development_database() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("REFUND_RECON_")}
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run([str(dbt), "debug", "--project-dir", str(PROJECT_DIR), "--profiles-dir",
                             str(PROJECT_DIR)], cwd=PROJECT_DIR, capture_output=True, text=True, env=env, timeout=120)
    assert "path: refund_recon_dev.duckdb" in result.stdout, result.stdout[-2000:]
    from recon_runner.cli import build_parser

    defaults = build_parser().parse_args(["run"])
    assert defaults.database == PROJECT_DIR / "refund_recon.duckdb" and defaults.target == "prod"


def test_variances_csv_never_runs_a_formula(tmp_path: Path) -> None:
    """Every CSV the runner writes (variances.csv, rejected_rows.csv: both go through
    reports.write_report_folder): a text cell a spreadsheet would run is written as text;
    numbers stay numbers, a negative amount included, at the currency's exponent."""
    import csv
    from decimal import Decimal

    from recon_runner.marts import VARIANCE_COLUMNS
    from recon_runner.reports import write_report_folder

    variances = [{"variance_id": "v1", "refund_id": '=HYPERLINK("http://x","y")', "order_id": "@SUM(A1)",
                  "detail": "-2+3", "variance_type": "amount_mismatch", "discrepancy_system": "erp",
                  "currency": "USD", "minor_units": 2, "amount_delta": Decimal("-36.00"),
                  "erp_amount": Decimal("4.0000"), "age_days": 12},
                 {"variance_id": "v2", "refund_id": "+1", "order_id": "\tord", "detail": "\rx",
                  "variance_type": "currency_mismatch", "discrepancy_system": "erp", "currency": "EUR",
                  "minor_units": 2, "amount_delta": None},
                 {"variance_id": "v3", "refund_id": "re_jpy", "order_id": "-1", "detail": "ok",
                  "variance_type": "amount_mismatch", "discrepancy_system": "erp", "currency": "JPY",
                  "minor_units": 0, "amount_delta": Decimal("-37224")}]
    rejected = [{"input_name": "processor_refunds", "source_file": "=cmd|' /C calc'!A0", "source_row_number": 4,
                 "record_id": "@x", "order_id": "+y", "rejected_column": "amount", "rejection_reason": "-z",
                 "amount_text": "=1+1", "currency": "\tUSD"}]
    summary = {"checkpoint_id": "cp_x", "as_of": AS_OF, "outcome": "variances_found"}
    folder = write_report_folder(tmp_path, "cp_x", summary, variances, VARIANCE_COLUMNS,
                                 {"rejected_rows": rejected})
    with open(folder / "variances.csv", newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert [row["refund_id"] for row in written] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "re_jpy"]
    assert [row["order_id"] for row in written] == ["'@SUM(A1)", "'\tord", "'-1"]
    assert [row["detail"] for row in written] == ["'-2+3", "'\rx", "ok"]
    assert [row["amount_delta"] for row in written] == ["-36.00", "", "-37224"]
    assert [row["erp_amount"] for row in written] == ["4.00", "", ""] and written[0]["age_days"] == "12"
    raw = (folder / "variances.csv").read_text(encoding="utf-8")
    assert ",-36.00," in raw and ",-37224," in raw  # a number: not quoted, not prefixed
    with open(folder / "rejected_rows.csv", newline="", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    assert [row[key] for key in ("source_file", "record_id", "order_id", "rejection_reason", "amount_text",
                                 "currency", "source_row_number")] == [
        "'=cmd|' /C calc'!A0", "'@x", "'+y", "'-z", "'=1+1", "'\tUSD", "4"]


def test_webhook_honours_retry_after_and_escapes_for_slack() -> None:
    """A 429 with Retry-After is retried after that wait; data cannot become a Slack mention or link."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from recon_runner.notify import post_json, slack_escape

    arrivals: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            arrivals.append(time.monotonic())
            self.send_response(429 if len(arrivals) == 1 else 200)
            if len(arrivals) == 1:
                self.send_header("Retry-After", "2")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = post_json(f"http://127.0.0.1:{server.server_port}/hook", {"text": "x"}, backoff_seconds=0.01)
    finally:
        server.shutdown()
    assert result.delivered and result.attempts == 2
    assert arrivals[1] - arrivals[0] >= 1.9
    assert slack_escape("refund <!channel> <https://x|Click> & more") == \
        "refund &lt;!channel&gt; &lt;https://x|Click&gt; &amp; more"


def test_the_message_says_where_the_report_is(tmp_path: Path) -> None:
    """The report's path by default; with REFUND_RECON_REPORT_URL_BASE, its address under that base."""
    result = runner(tmp_path, "--data-dir", str(tmp_path / "nowhere"),
                    env={"REFUND_RECON_REPORT_URL_BASE": "https://reports.example.com/recon/"})
    assert result.returncode == 3
    folder = tmp_path / "reports" / "cp_20260301T000000Z-failed"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["report_url"] == "https://reports.example.com/recon/cp_20260301T000000Z-failed/report.html"
    assert summary["report_path"] == str(folder / "report.html")
    assert summary["message"].endswith("\nReport: " + summary["report_url"])
    assert summary["settings"]["as_of"] == AS_OF and "webhook_env" in summary["settings"]
    assert sorted(path.name for path in folder.iterdir()) == [
        "audit.html", "rejected_rows.csv", "report.html", "summary.json", "variances.csv"]
    plain = runner(tmp_path / "second", "--data-dir", str(tmp_path / "nowhere"))
    second = tmp_path / "second" / "reports" / "cp_20260301T000000Z-failed"
    assert plain.returncode == 3 and "report_url" not in json.loads((second / "summary.json").read_text())
    assert f"Report: {second / 'report.html'}" in plain.stdout


def test_out_of_memory_says_which_setting_to_raise(tmp_path: Path) -> None:
    """A real DuckDB "Out of Memory" (a 4MB memory_limit on the sample; about
    30 s, the one test here that runs dbt): failed, nothing written, and the
    error names the models and the setting to raise, not only "a model failed"."""
    result = runner(tmp_path, env={"REFUND_RECON_DUCKDB_MEMORY_LIMIT": "4MB"})
    assert result.returncode == 3, result.stdout[-2000:]
    summary = json.loads((tmp_path / "reports" / "cp_20260301T000000Z-failed" / "summary.json").read_text())
    assert summary["outcome"] == "failed"
    assert "DuckDB ran out of memory in " in summary["error"]
    assert "at memory_limit 4MB: set env REFUND_RECON_DUCKDB_MEMORY_LIMIT higher" in summary["error"]
    if (tmp_path / "recon.duckdb").exists():  # the failed attempt may be recorded; no mart is
        with duckdb.connect(str(tmp_path / "recon.duckdb"), read_only=True) as con:
            assert not con.execute("select count(*) from duckdb_tables() where table_name = 'fct_refund_variances'"
                                   ).fetchone()[0]


SECRETS = ("p4ss", "w0rd", "t0ken", "Xq9", "u5er")


@pytest.mark.parametrize("url", ["http://u5er:p4ss:w0rd@127.0.0.1/services/T0/t0ken-Xq9",   # urllib: InvalidURL
                                 "http://u5er:p4ss@127.0.0.1:9/services/T0/t0ken-Xq9",      # a port: gaierror
                                 "http://u5er@127.0.0.1:9/services/T0/t0ken-Xq9?key=Xq9"])  # a user, a query
def test_webhook_credentials_never_reach_any_output(tmp_path: Path, url: str) -> None:
    """Issue 24 obs. 6: a webhook URL with credentials, parsed or not, is never
    printed or stored: not in the output, the summary, the message, the report
    (only its scheme and host)."""
    result = runner(tmp_path, "--data-dir", str(tmp_path / "nowhere"), env={"REFUND_RECON_WEBHOOK_URL": url})
    assert result.returncode == 3
    folder = tmp_path / "reports" / "cp_20260301T000000Z-failed"
    everything = result.stdout + result.stderr + "".join(p.read_text() for p in folder.iterdir())
    assert not [secret for secret in SECRETS if secret in everything], everything
    delivery = json.loads((folder / "summary.json").read_text())["deliveries"][1]
    assert delivery["delivered"] is False and delivery["endpoint"].startswith("http://127.0.0.1")


def test_webhook_credentials_are_sent_as_basic_auth_never_in_the_request_line() -> None:
    """The credentials of a webhook URL (https://user:password@host/...) go in an
    Authorization header; the endpoint receives the path, and a failure's
    detail names no part of the URL but its host."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from recon_runner.notify import mask_url, post_json, redact

    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append((self.path, self.headers.get("Authorization", "")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://u5er:p4ss%3Aw0rd@127.0.0.1:{server.server_port}/services/t0ken-Xq9"
        result = post_json(url, {"text": "x"}, attempts=1)
    finally:
        server.shutdown()
    assert result.delivered, result.detail
    assert seen == [("/services/t0ken-Xq9", "Basic " + base64.b64encode(b"u5er:p4ss:w0rd").decode())]
    for bad in ("http://u5er:p4ss:w0rd@127.0.0.1/t0ken-Xq9", "http://u5er:p4ss@[::1/t0ken-Xq9",
                "http://u5er:p4ss@127.0.0.1:99999/t0ken-Xq9"):
        failed = post_json(bad, {"text": "x"}, attempts=1)
        shown = failed.detail + mask_url(bad) + redact(f"error at {bad}", bad)
        assert not failed.delivered and not [secret for secret in SECRETS if secret in shown], shown


@pytest.mark.parametrize("var, flag", [("data_dir", "--data-dir"), ("as_of", "--as-of"),
                                       ("confirmation_sla_minutes", "--sla-minutes"),
                                       ("amount_tolerance", "--amount-tolerance"),
                                       ("business_timezone", "--business-timezone"),
                                       ("source_freshness_hours", "--freshness-hours"),
                                       ("storefront_shapes", "--storefront-shapes"),
                                       ("processor_shapes", "--processor-shapes"), ("erp_shapes", "--erp-shapes")])
def test_a_var_the_runner_sets_from_a_flag_is_a_usage_error(var: str, flag: str,
                                                            capsys: pytest.CaptureFixture) -> None:
    """Issue 24 obs. 9: --var amount_tolerance=1000 beside --amount-tolerance 0 (or its
    default) never wins silently: exit 64 naming both."""
    from recon_runner.cli import parse_args

    with pytest.raises(SystemExit) as refused:
        parse_args(["run", "--amount-tolerance", "0", "--var", f"{var}=1000"])
    assert refused.value.code == 64
    error = capsys.readouterr().err
    assert f"--var {var}" in error and flag in error
    assert parse_args(["run", "--var", "netsuite_refund_id_field=otherrefnum"]).extra_vars == {
        "netsuite_refund_id_field": "otherrefnum"}


def test_a_test_database_never_writes_production_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 24 obs. 8: by default the reports and the BI publication of a database
    live beside it and are keyed by it: refund_recon.duckdb keeps reports/ and bi/,
    any other database file (a test one beside production) gets its own."""
    from recon_runner.cli import parse_args

    monkeypatch.delenv("REFUND_RECON_BI_DIR", raising=False)
    production = parse_args(["run", "--database", str(tmp_path / "refund_recon.duckdb")])
    test = parse_args(["run", "--database", str(tmp_path / "other.duckdb")])
    assert (production.reports_dir, production.bi_dir) == (tmp_path / "reports", tmp_path / "bi")
    assert (test.reports_dir, test.bi_dir) == (tmp_path / "other.duckdb.reports", tmp_path / "other.duckdb.bi")


def run_results(rows: list[dict]) -> dict:
    """dbt's target/run_results.json (schema run-results v6, dbt 1.11: the file a real checkpoint build writes)."""
    return {"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
                         "dbt_version": "1.11.16", "generated_at": "2026-12-06T20:20:09.815080Z",
                         "invocation_id": "ade387d0-1cab-48e6-933e-71b487bdd2df", "env": {}},
            "results": [{"timing": [], "thread_id": "Thread-1 (worker)", "execution_time": 0.04,
                         "adapter_response": {}, "compiled": True, "compiled_code": "select 1",
                         "relation_name": None, "batch_results": None, **row} for row in rows],
            "elapsed_time": 20.9, "args": {}}


class StandIn:
    """A DbtSession whose `run` is a stand-in for dbt."""

    def __init__(self, run: Callable[..., object]) -> None:
        self.run = run

    def __enter__(self) -> "StandIn":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_a_failed_build_names_its_failing_nodes_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    """Issue 24 obs. 16: a failed build says which node failed and dbt's message
    (from the checkpoint's run_results.json) in summary.json, the webhook and
    the report, not "the dbt output above names it". (dbt itself is replaced
    by a stand-in writing its run_results.json: no build is run.)"""
    import subprocess as sp

    from recon_runner import checkpoint as steps, cli
    from test_checkpoint_runner import Webhook

    def failing_dbt(command: str, *args: str, artifacts: Path, **kwargs: object) -> sp.CompletedProcess:
        (artifacts / "target").mkdir(parents=True, exist_ok=True)
        (artifacts / "target" / "run_results.json").write_text(json.dumps(run_results([
            {"status": "success", "message": "OK", "failures": None, "unique_id": "model.refund_recon.stg_a"},
            {"status": "fail", "message": "Got 3 results, configured to fail if != 0", "failures": 3,
             "unique_id": "test.refund_recon.unique_fct_refund_variances_variance_id.0a1b2c"},
            {"status": "error", "message": "Runtime Error in model int_refunds_matched (models/x.sql)\n  Binder "
                                           "Error: column \"amount\" not found", "failures": None,
             "unique_id": "model.refund_recon.int_refunds_matched"}])))
        return sp.CompletedProcess([command], 1)

    monkeypatch.setattr(steps, "DbtSession", lambda: StandIn(failing_dbt))
    hook = Webhook()
    monkeypatch.setenv("REFUND_RECON_WEBHOOK_URL", hook.url)
    try:
        code = cli.main(["run", "--as-of", AS_OF, "--data-dir", str(SAMPLE), "--database",
                         str(tmp_path / "recon.duckdb"), "--reports-dir", str(tmp_path / "reports"), "--no-bi"])
    finally:
        hook.close()
    assert code == 3
    folder = tmp_path / "reports" / "cp_20260301T000000Z-failed"
    summary = json.loads((folder / "summary.json").read_text())
    assert [(n["resource_type"], n["name"], n["status"]) for n in summary["failed_nodes"]] == [
        ("test", "unique_fct_refund_variances_variance_id", "fail"), ("model", "int_refunds_matched", "error")]
    for said in (summary["error"], hook.received[0]["text"], (folder / "report.html").read_text(),
                 capsys.readouterr().out):
        assert "test unique_fct_refund_variances_variance_id fail: Got 3 results, configured to fail if != 0" \
            in said.replace("&#34;", '"')
        assert ('model int_refunds_matched error: Runtime Error in model int_refunds_matched (models/x.sql) '
                'Binder Error: column "amount" not found') in said.replace("&#34;", '"')


def test_an_error_after_the_checkpoint_is_one_line_and_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture) -> None:
    """Every error path prints one line and exits 3 (a traceback only with --debug),
    an error in composing the message included."""
    from recon_runner import checkpoint as steps, cli

    def broken(*args: object) -> str:
        raise KeyError("outcome_reasons")

    monkeypatch.setattr(steps, "message", broken)
    argv = ["run", "--as-of", AS_OF, "--data-dir", str(tmp_path / "nowhere"), "--database",
            str(tmp_path / "recon.duckdb"), "--reports-dir", str(tmp_path / "reports")]
    assert cli.main(argv) == 3
    out, err = capsys.readouterr()
    assert "FAILED: unexpected KeyError: 'outcome_reasons'" in out and "Traceback" not in out + err
    assert cli.main([*argv, "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


DBT_LOG_STOPPED = """\
20:31:25.767899 [info ] [MainThread]: Unable to do partial parsing because config vars, config profile, or config target have changed
20:31:32.611180 [error] [MainThread]: Encountered an error:
Compilation Error in model base_shopify__storefront_refunds (models/staging/base/shopify/base_shopify__storefront_refunds.sql)
  refund_recon: var stripe_schema must be a plain database, schema or table name (letters, digits, _, $ and -), got 'a;b'
  
  > in macro refund_recon_fail (macros/settings/settings.sql)
  > called by model base_shopify__storefront_refunds (models/staging/base/shopify/base_shopify__storefront_refunds.sql)
20:31:32.632898 [debug] [MainThread]: Resource report: {"command_name": "build", "command_success": false}
20:31:32.633450 [debug] [MainThread]: Command `dbt build` failed at 20:31:32.633370 after 10.49 seconds
"""


def test_a_build_that_stops_before_any_node_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 24 obs. 16, its other member: dbt stops at parse or compile time
    (no run_results.json; a bad var, say): the error is dbt's own, from this
    build's part of the checkpoint's dbt.log (lines as dbt 1.11 writes them),
    not an earlier build's."""
    import subprocess as sp

    from recon_runner import checkpoint as steps, cli

    def stopping_dbt(command: str, *args: str, artifacts: Path, **kwargs: object) -> sp.CompletedProcess:
        with open(artifacts / "logs" / "dbt.log", "a", encoding="utf-8") as log:
            log.write(DBT_LOG_STOPPED)
        return sp.CompletedProcess([command], 2)

    (tmp_path / "recon.duckdb.dbt" / "logs").mkdir(parents=True)
    (tmp_path / "recon.duckdb.dbt" / "logs" / "dbt.log").write_text(   # an earlier build's error: not this one's
        "19:00:00.000000 [error] [MainThread]: Encountered an error:\nRuntime Error\n  an old failure\n")
    monkeypatch.setattr(steps, "DbtSession", lambda: StandIn(stopping_dbt))
    code = cli.main(["run", "--as-of", AS_OF, "--data-dir", str(SAMPLE), "--database", str(tmp_path / "recon.duckdb"),
                     "--reports-dir", str(tmp_path / "reports"), "--no-bi"])
    assert code == 3
    summary = json.loads((tmp_path / "reports" / "cp_20260301T000000Z-failed" / "summary.json").read_text())
    assert summary["error"] == (
        "dbt build failed (exit 2): dbt stopped before running a node: Compilation Error in model "
        "base_shopify__storefront_refunds (models/staging/base/shopify/base_shopify__storefront_refunds.sql) "
        "refund_recon: var stripe_schema must be a plain database, schema or table name (letters, digits, _, $ and "
        "-), got 'a;b'")
    assert summary["error"] in summary["message"]


def test_a_reports_folder_belongs_to_one_database(tmp_path: Path) -> None:
    """Issue 24 obs. 8, when pointed at it: a checkpoint on a test database
    never writes into production's reports folder (the folder records its
    database; another is refused, exit 3, naming both)."""
    reports = tmp_path / "reports"
    first = runner(tmp_path, "--data-dir", str(tmp_path / "nowhere"), "--database",
                   str(tmp_path / "refund_recon.duckdb"), "--reports-dir", str(reports))
    assert first.returncode == 3 and (reports / "cp_20260301T000000Z-failed" / "summary.json").exists()
    before = sorted(path.name for path in reports.iterdir())
    written = (reports / "cp_20260301T000000Z-failed" / "summary.json").read_text()
    other = runner(tmp_path, "--data-dir", str(tmp_path / "nowhere"), "--database", str(tmp_path / "other.duckdb"),
                   "--reports-dir", str(reports))
    assert other.returncode == 3
    line = one_failure_line(other)
    assert str(tmp_path / "refund_recon.duckdb") in line and str(tmp_path / "other.duckdb") in line
    assert sorted(path.name for path in reports.iterdir()) == before
    assert (reports / "cp_20260301T000000Z-failed" / "summary.json").read_text() == written
    again = runner(tmp_path, "--data-dir", str(tmp_path / "nowhere"), "--database",
                   str(tmp_path / "refund_recon.duckdb"), "--reports-dir", str(reports))
    assert again.returncode == 3 and "holds the reports" not in again.stdout


def test_a_report_link_base_with_credentials_is_never_shown(tmp_path: Path) -> None:
    """REFUND_RECON_REPORT_URL_BASE prefixes links sent to every reader: a base
    holding credentials or a token is not used, and its secret appears nowhere."""
    hidden = "s3cr3t-" + "t0ken"   # assembled, so the repository's secret scan sees no literal
    query = "tok" + "en="
    for base in (f"https://user:{hidden}@reports.example.com/recon/", f"https://reports.example.com/r?{query}{hidden}",
                 f"https://reports.example.com/r#{hidden}", f"https://user:{hidden}@[bad/"):
        work = tmp_path / str(abs(hash(base)))
        result = runner(work, "--data-dir", str(tmp_path / "nowhere"), env={"REFUND_RECON_REPORT_URL_BASE": base})
        assert result.returncode == 3
        summary_text = (work / "reports" / "cp_20260301T000000Z-failed" / "summary.json").read_text()
        assert "report_url" not in json.loads(summary_text)
        assert "REFUND_RECON_REPORT_URL_BASE" in result.stdout
        written = "".join(path.read_text() for path in (work / "reports").rglob("*") if path.is_file())
        assert hidden not in result.stdout + result.stderr + written


def test_the_installed_command_is_the_script() -> None:
    """`pip install -e .` (make setup) gives `refund-recon`: the same commands
    and exit codes as `python scripts/checkpoint.py`, under its own name."""
    command = Path(sys.executable).with_name("refund-recon")
    assert command.is_file(), f"{command} is missing: run `make setup` (pip install -e .)"
    installed = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=60)
    script = subprocess.run([sys.executable, str(RUNNER), "--help"], capture_output=True, text=True, timeout=60)
    assert installed.returncode == script.returncode == 0, installed.stderr + script.stderr
    assert installed.stdout.startswith("usage: refund-recon ") and script.stdout.startswith("usage: checkpoint.py ")
    # the same text but for the name (argparse wraps the usage line by the name's length)
    assert " ".join(installed.stdout.replace("refund-recon", "checkpoint.py").split()) == " ".join(script.stdout.split())
    for name in ("run", "validate-writeback", "mapping-impact"):
        assert name in installed.stdout
    usage = subprocess.run([str(command), "run", "--bogus"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 64 and "refund-recon: usage error: unrecognized arguments: --bogus" in usage.stderr


def test_no_file_edits_the_import_path() -> None:
    """Imports resolve through the installed package and pytest.ini's
    `pythonpath`, never through sys.path edits scattered in files."""
    edits = [f"{path.relative_to(PROJECT_DIR)}:{number}"
             for folder in ("scripts", "tests", "benchmarks") for path in sorted((PROJECT_DIR / folder).rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if "sys.path." in line and not line.lstrip().startswith("#")
             and any(verb in line for verb in ("insert(", "append(", "extend(", "+="))]
    assert edits == []


def test_a_saved_dbt_parse_is_kept_only_for_its_own_project_folder(tmp_path: Path) -> None:
    """dbt loads a seed from the folder its saved parse was made in
    (test_checkpoint_sequences: a copy's edited mapping read by the project's
    checkpoint): a saved parse is kept for the same project folder only; one
    of another folder or of unknown origin is removed before dbt runs."""
    from recon_runner.dbt import keep_parse_of_this_project

    artifacts = tmp_path / "recon.duckdb.dbt"
    saved = artifacts / "target" / "partial_parse.msgpack"
    elsewhere = tmp_path / "release-2"
    elsewhere.mkdir()

    def save() -> None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_bytes(b"parse")

    save()                                              # no record of its folder: unknown origin
    keep_parse_of_this_project(artifacts, PROJECT_DIR)
    assert not saved.exists()
    save()                                              # made from PROJECT_DIR, run from it again
    keep_parse_of_this_project(artifacts, PROJECT_DIR)
    assert saved.exists()
    keep_parse_of_this_project(artifacts, elsewhere)    # another folder: removed, the new folder recorded
    assert not saved.exists()
    assert (saved.parent / "partial_parse.project").read_text(encoding="utf-8") == str(elsewhere.resolve())
    save()
    keep_parse_of_this_project(artifacts, elsewhere / ".." / "release-2")   # the same folder by another path
    assert saved.exists()
    keep_parse_of_this_project(None, elsewhere)         # dbt's own target/ inside the project: nothing to do
    assert saved.exists()
