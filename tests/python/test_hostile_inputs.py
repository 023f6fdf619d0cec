"""Hostile inputs: what real exports do, and the exact outcome of each.

Every case is either a clear error naming the input, file and column, or a
row with its reason in fct_rejected_rows, or a row accepted with its value
read exactly; and the rest of the run is unharmed: the clean base scenario
still reconciles with no variance at all.

Row-level cases share one build (each row has its own ids); file-level cases
(encodings, delimiters, empty files, Parquet types) need a build each.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import INPUT_COLUMNS, Build, dbt_build, generate

STOREFRONT, PROCESSOR, ERP = (INPUT_COLUMNS[name] for name in ("storefront_refunds", "processor_refunds",
                                                                  "erp_refund_postings"))
PII = {"customer_email": "jane.doe@example.com", "customer_name": "Jane Doe"}
LONG_REASON = "x" * 10_000
QUOTED_REASON = 'damaged, "badly"\nsecond line'


def storefront_row(refund_id: str, **overrides: str) -> dict[str, str]:
    row = {"storefront_refund_id": refund_id, "order_id": f"ord_{refund_id}", "processor_refund_id": "",
           "amount": "10.00", "currency": "USD", "refund_type": "full", "reason": "damaged", "status": "succeeded",
           "created_at": "2026-02-10T10:00:00Z", "updated_at": "2026-02-10T10:05:00Z", "channel": "online",
           "storefront": "generic"}
    row.update(overrides)
    return row


def processor_row(refund_id: str, **overrides: str) -> dict[str, str]:
    row = {"processor_refund_id": refund_id, "processor": "stripe", "payment_id": "ch_1", "order_id": f"ord_{refund_id}",
           "amount": "10.00", "currency": "USD", "status": "succeeded", "reason": "", "created_at": "2026-02-10T10:00:00Z",
           "event_at": "2026-02-10T10:01:00Z"}
    row.update(overrides)
    return row


def erp_row(document_id: str, **overrides: str) -> dict[str, str]:
    row = {"erp_document_id": document_id, "processor_refund_id": "", "order_id": "", "gl_account": "4900",
           "amount": "10.00", "currency": "USD", "reason_code": "RC-DMG", "refund_type": "full",
           "posted_at": "2026-02-10T10:10:00Z", "received_at": "2026-02-10T10:10:00Z", "posting_period": "2026-02"}
    row.update(overrides)
    return row


@dataclass
class Case:
    name: str
    input_name: str
    rows: list[dict[str, str]]
    record_id: str
    rejected: tuple[str, str] | None = None  # (column, reason) when the row must be rejected
    accepted: dict[str, object] = field(default_factory=dict)  # column -> value in the intermediate model


# One row per kind of fault real exports have; each with its own ids.
ROW_CASES = [
    Case("blank storefront id", "storefront_refunds", [storefront_row("  ", order_id="ord_blank")], "",
         rejected=("storefront_refund_id", "missing storefront_refund_id")),
    Case("null processor id", "processor_refunds", [processor_row("", order_id="ord_null_id")], "",
         rejected=("processor_refund_id", "missing processor_refund_id")),
    Case("non-numeric amount", "storefront_refunds", [storefront_row("sr_abc", amount="abc")], "sr_abc",
         rejected=("amount", "unparseable amount")),
    Case("currency symbol and thousands separator", "processor_refunds",
         [processor_row("re_symbol", amount="$1,234.50")], "re_symbol", rejected=("amount", "unparseable amount")),
    Case("decimal comma", "erp_refund_postings", [erp_row("CR-comma", amount="1.234,50")], "CR-comma",
         rejected=("amount", "unparseable amount")),
    Case("negative amount", "storefront_refunds", [storefront_row("sr_negative", amount="-5.00")], "sr_negative",
         rejected=("amount", "negative amount")),
    Case("more decimals than USD allows", "processor_refunds", [processor_row("re_decimals", amount="1.005")],
         "re_decimals", rejected=("amount", "more decimals than the currency allows")),
    Case("decimals on JPY", "erp_refund_postings", [erp_row("CR-jpy", amount="100.5", currency="JPY")], "CR-jpy",
         rejected=("amount", "more decimals than the currency allows")),
    Case("unknown currency", "storefront_refunds", [storefront_row("sr_xyz", currency="XYZ")], "sr_xyz",
         rejected=("currency", "unknown currency code")),
    Case("impossible date", "processor_refunds", [processor_row("re_feb30", created_at="2026-02-30T10:00:00Z")],
         "re_feb30", rejected=("created_at", "unparseable timestamp in created_at")),
    Case("day-first date", "erp_refund_postings", [erp_row("CR-dayfirst", posted_at="31/01/2026 10:00")],
         "CR-dayfirst", rejected=("posted_at", "unparseable timestamp in posted_at")),
    Case("far future", "storefront_refunds", [storefront_row("sr_future", created_at="2999-01-01T00:00:00Z",
                                                             updated_at="")],
         "sr_future", rejected=("created_at", "created_at is more than a day after as_of")),
    Case("blank status", "storefront_refunds", [storefront_row("sr_nostatus", status="  ")], "sr_nostatus",
         rejected=("status", "missing status")),
    Case("bad posting period", "erp_refund_postings", [erp_row("CR-period", posting_period="Feb 2026")],
         "CR-period", rejected=("posting_period", "posting_period is not YYYY-MM")),
    Case("short row", "erp_refund_postings", [{"erp_document_id": "CR-short", "processor_refund_id": "re_x"}],
         "CR-short", rejected=("gl_account", "missing gl_account")),
    Case("offset +05:30", "storefront_refunds",
         [storefront_row("sr_offset", created_at="2026-02-10T15:30:00+05:30", updated_at="")], "sr_offset",
         accepted={"created_at": pd.Timestamp("2026-02-10 10:00:00")}),
    Case("offset -0800", "storefront_refunds",
         [storefront_row("sr_offset_neg", created_at="2026-02-10T02:00:00-0800", updated_at="")], "sr_offset_neg",
         accepted={"created_at": pd.Timestamp("2026-02-10 10:00:00")}),
    Case("offset out of range", "processor_refunds",
         [processor_row("re_offset99", created_at="2026-02-10T10:00:00+99:00")], "re_offset99",
         rejected=("created_at", "unparseable timestamp in created_at")),
    Case("offset +14:00", "storefront_refunds",
         [storefront_row("sr_offset14", created_at="2026-02-11T00:00:00+14:00", updated_at="")], "sr_offset14",
         accepted={"created_at": pd.Timestamp("2026-02-10 10:00:00")}),
    Case("Z suffix", "storefront_refunds", [storefront_row("sr_zulu", created_at="2026-02-10T10:00:00Z", updated_at="")],
         "sr_zulu", accepted={"created_at": pd.Timestamp("2026-02-10 10:00:00")}),
    Case("no offset is UTC", "storefront_refunds",
         [storefront_row("sr_naive", created_at="2026-02-10 10:00:00", updated_at="")], "sr_naive",
         accepted={"created_at": pd.Timestamp("2026-02-10 10:00:00")}),
    Case("date only", "storefront_refunds", [storefront_row("sr_dateonly", created_at="2026-02-10", updated_at="")],
         "sr_dateonly", accepted={"created_at": pd.Timestamp("2026-02-10 00:00:00")}),
    Case("status and reason in mixed case with spaces", "storefront_refunds",
         [storefront_row("sr_case", status="  SuCCeeded ", reason=" DAMAGED  ", currency=" usd ", amount=" 12.50 ")],
         "sr_case", accepted={"canonical_status": "succeeded", "gl_reason_code": "RC-DMG", "currency": "USD",
                              "amount_minor": 1250}),
    Case("trailing zeros are exact", "storefront_refunds", [storefront_row("sr_zeros", amount="12.500")], "sr_zeros",
         accepted={"amount_minor": 1250}),
    Case("KWD has three decimals", "storefront_refunds", [storefront_row("sr_kwd", amount="1.234", currency="KWD")],
         "sr_kwd", accepted={"amount_minor": 1234}),
    Case("10,000-character reason", "storefront_refunds", [storefront_row("sr_long", reason=LONG_REASON)], "sr_long",
         accepted={"raw_reason": LONG_REASON, "is_reason_mapped": False}),
    Case("unicode and emoji", "storefront_refunds",
         [storefront_row("sr_ünï🎁", reason="返品 🎁", order_id="ord_ü")], "sr_ünï🎁",
         accepted={"raw_reason": "返品 🎁", "order_id": "ord_ü"}),
    Case("quoted commas and newlines in reason", "storefront_refunds",
         [storefront_row("sr_quoted", reason=QUOTED_REASON)], "sr_quoted", accepted={"raw_reason": QUOTED_REASON}),
    Case("same id with conflicting content: latest wins", "storefront_refunds",
         [storefront_row("sr_conflict", amount="10.00", updated_at="2026-02-10T11:00:00Z"),
          storefront_row("sr_conflict", amount="12.00", updated_at="2026-02-10T12:00:00Z"),
          storefront_row("sr_conflict", amount="11.00", updated_at="2026-02-10T10:30:00Z")],
         "sr_conflict", accepted={"amount_minor": 1200, "source_row_count": 3}),
]

ID_COLUMN = {"storefront_refunds": "storefront_refund_id", "processor_refunds": "processor_refund_id",
             "erp_refund_postings": "erp_document_id"}
INTERMEDIATE = {"storefront_refunds": "int_storefront_refunds_deduplicated",
                "processor_refunds": "int_processor_refunds_collapsed",
                "erp_refund_postings": "int_erp_postings_deduplicated"}
HEADERS = {"storefront_refunds": STOREFRONT, "processor_refunds": PROCESSOR, "erp_refund_postings": ERP}


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]], **kwargs: object) -> None:
    with open(path, "w", newline="", encoding=kwargs.pop("encoding", "utf-8")) as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore", **kwargs)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A small clean scenario: every refund reconciles, no variance."""
    folder = tmp_path_factory.mktemp("hostile_base") / "data"
    settings = generate(folder, "--refunds", "40", "--seed", "21", "--fault-rate", "0", "--trap-rate", "0",
                        "--bad-rows", "0")
    return folder, settings


def base_ids(folder: Path) -> set[str]:
    return {row["processor_refund_id"] for row in read_rows(folder / "processor_refunds.csv")}


def copy_base(base_folder: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in HEADERS:
        shutil.copy(base_folder / f"{name}.csv", target / f"{name}.csv")
    return target


@pytest.fixture(scope="module")
def row_build(base: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Build:
    base_folder, settings = base
    work = tmp_path_factory.mktemp("hostile_rows")
    data = copy_base(base_folder, work / "data")
    for name, header in HEADERS.items():
        rows = read_rows(data / f"{name}.csv")
        rows += [row for case in ROW_CASES if case.input_name == name for row in case.rows]
        extra = list(PII) if name == "storefront_refunds" else []
        write_rows(data / f"{name}.csv", header + extra, [{**PII, **row} if extra else row for row in rows])
    build = dbt_build(work, data, settings, "--exclude-resource-type", "unit_test")
    assert build.returncode == 0, build.output[-3000:]
    return build


@pytest.mark.parametrize("case", ROW_CASES, ids=[case.name for case in ROW_CASES])
def test_row_level_case(case: Case, row_build: Build) -> None:
    rejected = row_build.query(f"""
        select rejected_column, rejection_reason, source_file, source_row_number
        from fct_rejected_rows
        where input_name = '{case.input_name}' and coalesce(record_id, '') = '{case.record_id.strip()}'
    """)
    if case.rejected:
        assert [tuple(r) for r in rejected[["rejected_column", "rejection_reason"]].itertuples(index=False)] == [case.rejected]
        assert rejected["source_file"].iloc[0].endswith(f"{case.input_name}.csv")
        return
    assert rejected.empty, rejected
    id_column = ID_COLUMN[case.input_name]
    found = row_build.query(
        f"select * from main_intermediate.{INTERMEDIATE[case.input_name]} where {id_column} = ?", [case.record_id])
    assert len(found) == 1
    for column, value in case.accepted.items():
        assert found[column].iloc[0] == value, column


def test_the_rest_of_the_run_is_unharmed(row_build: Build, base: tuple[Path, dict]) -> None:
    variances = row_build.query("select refund_id from fct_refund_variances")
    assert not set(variances["refund_id"]) & base_ids(base[0])
    counts = row_build.query("""
        select (select count(*) from main_intermediate.int_processor_refunds_collapsed) as processor_refunds,
               (select count(*) from fct_rejected_rows) as rejected
    """).iloc[0]
    assert counts["processor_refunds"] == len(base_ids(base[0]))
    assert counts["rejected"] == sum(1 for case in ROW_CASES if case.rejected)


def test_no_personal_data_reaches_the_marts(row_build: Build) -> None:
    for table in ("fct_refund_variances", "rpt_refund_reconciliation", "fct_rejected_rows", "fct_checkpoint_runs",
                  "fct_variance_history"):
        frame = row_build.query(f"select * from {table}")
        text = frame.astype(str).to_string()
        assert "jane.doe@example.com" not in text and "Jane Doe" not in text, table
        assert not {"customer_email", "customer_name"} & set(frame.columns)


def run_variant(tmp_path: Path, data: Path, settings: dict, *extra: str, command: str = "build") -> Build:
    if command == "build":
        extra = ("--exclude-resource-type", "unit_test", *extra)
    return dbt_build(tmp_path, data, settings, *extra, command=command)


def test_empty_file_is_a_clear_error(base: tuple[Path, dict], tmp_path: Path) -> None:
    data = copy_base(base[0], tmp_path / "data")
    (data / "storefront_refunds.csv").write_bytes(b"")
    build = run_variant(tmp_path, data, base[1], "--select", "stg_storefront__refunds", command="run")
    assert build.returncode != 0
    assert f"input 'storefront_refunds' ({data / 'storefront_refunds.csv'}) is empty" in build.output


def test_header_only_file_is_a_stale_source(base: tuple[Path, dict], tmp_path: Path) -> None:
    data = copy_base(base[0], tmp_path / "data")
    write_rows(data / "erp_refund_postings.csv", ERP, [])
    # A window of 60 days: only the empty ERP export can make a source stale.
    build = run_variant(tmp_path, data, {**base[1], "source_freshness_hours": 24 * 60})
    assert build.returncode == 0, build.output[-2000:]
    run = build.query("select erp_rows_read, stale_sources, outcome from fct_checkpoint_runs").iloc[0]
    assert (run["erp_rows_read"], run["stale_sources"], run["outcome"]) == (0, "erp", "stale_sources")


def test_bom_semicolons_crlf_and_header_spelling(base: tuple[Path, dict], tmp_path: Path) -> None:
    """Three export habits at once, one per input; the scenario still reconciles exactly."""
    data = copy_base(base[0], tmp_path / "data")
    storefront = read_rows(data / "storefront_refunds.csv")
    spelled = [name.replace("_", " ").title() for name in STOREFRONT]  # "Storefront Refund Id"
    with open(data / "storefront_refunds.csv", "w", newline="", encoding="utf-8-sig") as handle:  # BOM
        writer = csv.writer(handle)
        writer.writerow(spelled)
        writer.writerows([[row[name] for name in STOREFRONT] for row in storefront])
    write_rows(data / "processor_refunds.csv", PROCESSOR, read_rows(data / "processor_refunds.csv"), delimiter=";")
    write_rows(data / "erp_refund_postings.csv", [name.upper() for name in ERP],
               [{name.upper(): value for name, value in row.items()} for row in read_rows(data / "erp_refund_postings.csv")],
               lineterminator="\r\n")
    build = run_variant(tmp_path, data, base[1])
    assert build.returncode == 0, build.output[-2000:]
    assert build.query("select count(*) as n from fct_refund_variances")["n"].iloc[0] == 0
    assert build.query("select count(*) as n from fct_rejected_rows")["n"].iloc[0] == 0
    counts = build.query("select storefront_rows_read, processor_rows_read, erp_rows_read from fct_checkpoint_runs")
    assert tuple(counts.iloc[0]) == (len(storefront), len(read_rows(base[0] / "processor_refunds.csv")),
                                     len(read_rows(base[0] / "erp_refund_postings.csv")))


def test_non_utf8_bytes_are_a_clear_error_then_read_with_input_encoding(base: tuple[Path, dict],
                                                                         tmp_path: Path) -> None:
    data = copy_base(base[0], tmp_path / "data")
    rows = read_rows(data / "storefront_refunds.csv")
    rows[0]["reason"] = "café"
    write_rows(data / "storefront_refunds.csv", STOREFRONT, rows, encoding="latin-1")
    failed = run_variant(tmp_path / "utf8", data, base[1], "--select", "stg_storefront__refunds", command="run")
    assert failed.returncode != 0
    assert "not utf-8 encoded" in failed.output and "storefront_refunds.csv" in failed.output
    latin = dbt_build(tmp_path / "latin1", data, {**base[1], "input_encoding": "latin-1"},
                      "--select", "+stg_storefront__refunds", "--resource-type", "seed", "--resource-type", "model")
    assert latin.returncode == 0, latin.output[-2000:]
    reasons = latin.query("select raw_reason from main_staging.stg_storefront__refunds where source_row_number = 1")
    assert reasons["raw_reason"].iloc[0] == "café"


def test_parquet_with_wrong_column_types(base: tuple[Path, dict], tmp_path: Path) -> None:
    """Amounts as doubles, ids as integers, timestamps as timestamps: read exactly, or rejected."""
    data = copy_base(base[0], tmp_path / "data")
    (data / "storefront_refunds.csv").unlink()
    table = pa.table({
        "storefront_refund_id": pa.array([101, 102, 103], pa.int64()),
        "order_id": pa.array([1, 2, 3], pa.int64()),
        "amount": pa.array([12.5, 0.1 + 0.2, 7.0], pa.float64()),
        "currency": ["USD", "USD", "USD"],
        "status": ["succeeded", "succeeded", "succeeded"],
        "created_at": pa.array([pd.Timestamp("2026-02-10 10:00:00")] * 3, pa.timestamp("us")),
    })
    pq.write_table(table, data / "storefront_refunds.parquet")
    build = dbt_build(tmp_path, data, base[1], "--select", "+fct_rejected_rows", "+int_storefront_refunds_deduplicated",
                      "--resource-type", "seed", "--resource-type", "model")
    assert build.returncode == 0, build.output[-2000:]
    accepted = build.query("""
        select storefront_refund_id, amount_minor, created_at from main_intermediate.int_storefront_refunds_deduplicated
        order by 1
    """)
    assert accepted.values.tolist() == [["101", 1250, pd.Timestamp("2026-02-10 10:00:00")],
                                        ["103", 700, pd.Timestamp("2026-02-10 10:00:00")]]
    rejected = build.query("select record_id, source_row_number, rejection_reason, source_file from fct_rejected_rows")
    assert rejected.values.tolist()[0][:3] == ["102", 2, "more decimals than the currency allows"]
    assert rejected["source_file"].iloc[0].endswith("storefront_refunds.parquet")
