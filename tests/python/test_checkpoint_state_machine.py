"""Any sequence of deliveries and checkpoints tells the truth (hypothesis).

The state machine tries sequences of deliveries (clean, faulty, dated past
the clock, a bad row at a row number seen before, corrections, repeats, file
names a sender may choose, earlier files sent again under another name, earlier rows
exported again in new bytes) and
checkpoints (later, again, backfilled, failed, killed, with an amount tolerance, after an
edit of the status mapping seed), and after each one
checks the oracle in checkpoint_world.py: the checkpoint's verdict, counts and
variances equal what a fresh full build of the same files at the same as_of
says. The explicit sequences it once found are in test_checkpoint_sequences.py.

Profiles (docs/testing.md): `make test` and CI run the derandomized `ci`
profile (4 sequences of up to 6 steps, a few minutes); `wide` is the former CI
profile (5 of 8, about ten minutes); run the long one (30 of 14, about an
hour) locally with

    HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/python/test_checkpoint_state_machine.py

Every failure the long profile finds becomes an explicit test in
test_checkpoint_sequences.py.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, seed, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from checkpoint_world import START, SYSTEMS, World, world_folder

# ci: a fixed seed (on the machine, below), so CI tries the same sequences
# every run: hypothesis's first two are always the simplest (here: failed
# checkpoints only, and none), the others are varied; no example database.
# Every step is a checkpoint and a fresh build (two dbt builds): the profile is
# the suite's longest file, so it is kept small; wide and long try more.
settings.register_profile("ci", max_examples=4, stateful_step_count=6, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck), print_blob=True)
settings.register_profile("wide", max_examples=5, stateful_step_count=8, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck), print_blob=True)
settings.register_profile("long", max_examples=30, stateful_step_count=14, deadline=None,
                          suppress_health_check=list(HealthCheck), print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

pytestmark = pytest.mark.slow


class CheckpointSequences(RuleBasedStateMachine):
    """Days of deliveries and checkpoints in any order; the oracle checks each checkpoint."""

    @initialize()
    def start(self) -> None:
        self.world = World(world_folder(self._tmp.getbasetemp()))
        self.clock = START + timedelta(hours=2)
        self.faulty: list[dict] = []
        self.world.deliver([self.world.refund_rows(START + timedelta(hours=1))])

    def deliver(self, kind: str, count: int) -> None:
        """A day's delivery of `count` refunds created an hour before the clock."""
        if kind == "repeat":  # the latest delivery files again, under new names: nothing new
            self.world.repeat_last_delivery()
            return
        parts = []
        for index in range(count):
            at = self.clock - timedelta(minutes=60 - index)
            if kind == "wrong_amount":
                part = self.world.refund_rows(at, erp_amount="1.00")
                self.faulty.append(part)
            elif kind == "missing_erp":
                part = self.world.refund_rows(at, with_erp=False)
            elif kind == "wrong_reason":
                part = self.world.refund_rows(at, erp_reason="RC-CUS")
                self.faulty.append(part)
            elif kind == "future":
                part = self.world.refund_rows(at, erp_received=at + timedelta(days=3))
            else:
                part = self.world.refund_rows(at)
            parts.append(part)
        systems = ("storefront", "processor") if kind == "erp_silent" else tuple(SYSTEMS)
        self.world.deliver(parts, systems=systems, bad_row_first=kind == "bad_row")

    def day(self, kind: str, count: int, hours: int) -> None:
        """Deliver, then checkpoint `hours` later."""
        self.deliver(kind, count)
        self.clock += timedelta(hours=hours)
        self.world.checkpoint(self.clock)

    # Three rules of days (hypothesis picks among rules evenly: most steps deliver).
    @rule(count=st.integers(1, 3), hours=st.integers(2, 30))
    def clean_day(self, count: int, hours: int) -> None:
        self.day("clean", count, hours)

    @rule(kind=st.sampled_from(["wrong_amount", "missing_erp", "wrong_reason"]), count=st.integers(1, 3),
          hours=st.integers(2, 30))
    def faulty_day(self, kind: str, count: int, hours: int) -> None:
        self.day(kind, count, hours)

    @rule(kind=st.sampled_from(["future", "bad_row", "erp_silent", "repeat"]), count=st.integers(1, 3),
          hours=st.integers(2, 30))
    def odd_day(self, kind: str, count: int, hours: int) -> None:
        self.day(kind, count, hours)

    @rule(style=st.sampled_from(["upper", "brackets", "wildcards", "gzip"]), count=st.integers(1, 3),
          hours=st.integers(2, 30))
    def renamed_day(self, style: str, count: int, hours: int) -> None:
        """A clean delivery whose file name a sender may choose (DELIVERY_007.CSV,
        delivery[007].csv, delivery_*007?.csv, .csv.gz; an AppleDouble file beside)."""
        self.world.deliver([self.world.refund_rows(self.clock - timedelta(minutes=60 - index))
                            for index in range(count)], style=style)
        self.clock += timedelta(hours=hours)
        self.world.checkpoint(self.clock)

    @rule(style=st.sampled_from(["plain", "upper", "brackets", "wildcards"]), back=st.integers(0, 3),
          hours=st.integers(2, 30))
    def resent_day(self, style: str, back: int, hours: int) -> None:
        """An earlier delivery's files sent again (the same bytes) under another
        name: a repeat, read once, nothing new."""
        self.world.resend(max(1, self.world.deliveries - back), style)
        self.clock += timedelta(hours=hours)
        self.world.checkpoint(self.clock)

    @rule(back=st.integers(0, 3), erp_only=st.booleans(), hours=st.integers(2, 30))
    def reexported_day(self, back: int, erp_only: bool, hours: int) -> None:
        """An earlier delivery's rows exported again in new bytes (gzip toggled, other line
        endings): new files, no new row. With erp_only, only the ERP's, while the storefront and
        the processor send a refund."""
        if erp_only:
            self.world.deliver([self.world.refund_rows(self.clock - timedelta(minutes=10))],
                               systems=("storefront", "processor"))
        self.world.reexport(max(1, self.world.deliveries - back), systems=("erp",) if erp_only else tuple(SYSTEMS))
        self.clock += timedelta(hours=hours)
        self.world.checkpoint(self.clock)

    @precondition(lambda self: self.faulty)
    @rule(hours=st.integers(2, 30))
    def correction(self, hours: int) -> None:
        """A new version of an earlier faulty ERP document, put right; then a checkpoint."""
        part = self.faulty.pop(0)
        storefront, erp = part["storefront"][0], list(part["erp"][0])
        erp[4], erp[6] = storefront[3], "RC-DMG"
        erp[9] = (self.clock - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.world.deliver([{"erp": [erp]}], systems=("erp",))
        self.clock += timedelta(hours=hours)
        self.world.checkpoint(self.clock)

    @rule(hours=st.integers(1, 30))
    def quiet_day(self, hours: int) -> None:
        """No delivery at all, then a checkpoint."""
        self.clock += timedelta(hours=hours)
        self.world.checkpoint(self.clock)

    @rule(kind=st.sampled_from(["settled_to_pending", "settled_not_final", "unused_row", "restore"]))
    def mapping_edit(self, kind: str) -> None:
        """An edit of the status mapping seed (checkpoint_world.STATUS_MAP_EDITS):
        one that maps a settled status away must fail every checkpoint until it
        is undone; a harmless one changes nothing the oracle would not."""
        self.world.edit_mapping(kind)

    @rule(tolerance=st.sampled_from(["0", "0.50", "48.99", "1000"]), hours=st.integers(2, 30))
    def tolerant_checkpoint(self, tolerance: str, hours: int) -> None:
        """A checkpoint with --tolerate-amount: exit 0 only when no row was
        rejected and every variance is an amount difference within it (a
        wrong ERP amount here is 1.00 against a refund of 11.00 and up, so 0
        tolerates none, 48.99 the first ones, 1000 all; a missing posting or a
        wrong reason never is, whatever the tolerance)."""
        self.clock += timedelta(hours=hours)
        self.world.checkpoint(self.clock, tolerate=Decimal(tolerance))

    @precondition(lambda self: self.world.latest_as_of is not None)
    @rule()
    def checkpoint_again(self) -> None:
        self.world.checkpoint(self.world.latest_as_of)

    @precondition(lambda self: self.world.latest_as_of is not None)
    @rule(hours=st.integers(1, 30))
    def backfill(self, hours: int) -> None:
        self.world.checkpoint(self.world.latest_as_of - timedelta(hours=hours))

    @rule(hours=st.integers(0, 30))
    def failed_checkpoint(self, hours: int) -> None:
        self.world.failed_checkpoint(self.clock + timedelta(hours=hours))

    @rule(seconds=st.sampled_from([0.5, 2.0]))
    def killed_checkpoint(self, seconds: float) -> None:
        self.world.killed_checkpoint(self.clock + timedelta(hours=1), after_seconds=seconds)


def test_any_sequence_of_checkpoints_tells_the_truth(tmp_path_factory: pytest.TempPathFactory) -> None:
    CheckpointSequences._tmp = tmp_path_factory
    if os.environ.get("HYPOTHESIS_PROFILE", "ci") in ("ci", "wide"):
        seed(20261130)(CheckpointSequences)
    CheckpointSequences.TestCase().runTest()
