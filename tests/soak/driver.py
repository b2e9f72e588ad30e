"""The continuous-operation driver: many real sync cycles while the sandbox org's users edit,
convert, merge and delete, contacts enter through the CLI and CSV, the sync and the CLI are
SIGKILLed, the org's clock drifts and faults are injected; then settle and compare both sides.

Everything random comes from one seed (printed first): a failure reproduces with
`python bench/soak.py --seed N` (or CONVERSION_SOAK_SEED=N scripts/test tests/soak).
The pytest test (tests/soak/test_continuous.py) and the standalone runner (bench/soak.py) call
`SoakDriver.run()`; the comparison itself is in tests/soak/checks.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from sandbox_org import generator as gen
from sandbox_org.errors import SandboxError
from sqlalchemy import and_, or_, select

from conversion_sync.store.database import open_engine
from conversion_sync.store.schema import contacts, sync_runs
from conversion_sync.sync.ids import to_18
from tests.soak.actions import CLI, Actions
from tests.soak.ledger import COMPARED, CONVERSION, SALESFORCE, Ledger, norm

ROOT = Path(__file__).resolve().parents[2]
EXTRACT_AND_APPLY_STEPS = ("salesforce_accounts", "salesforce_contacts", "salesforce_leads", "companies", "contacts")
SETTINGS = """\
lookback_seconds: 300
settle_seconds: 0
fields:
  first_name: {salesforce: FirstName, preference: two_way}
  last_name: {salesforce: LastName, preference: two_way}
  title: {salesforce: Title, preference: two_way}
  phone: {salesforce: Phone, preference: two_way}
push_retry_base_seconds: 1
push_budget_pause_seconds: 1
push_max_attempts: 60
"""


@dataclass
class Profile:
    """How much life one soak packs in. `ci()` fits a few minutes of scripts/test; `long()` is
    for a soak by hand (bench/soak.py --long, or CONVERSION_SOAK_LONG=1)."""

    cycles: int = 24
    sync_kills: int = 3
    cli_kills: int = 1
    max_skew: float = 5.0
    settle_cycles: int = 3
    accounts: int = 6
    contacts: int = 20
    leads: int = 20
    # Salesforce users also edit a field of a record while a Conversion edit of another of its
    # fields is still unsent (queued, failed, or waiting for the next push); off keeps the
    # stricter life, where a record is written in Salesforce only once Conversion's writes arrived.
    edit_beside_unsent: bool = False

    @classmethod
    def ci(cls) -> Profile:
        return cls()

    @classmethod
    def long(cls) -> Profile:
        return cls(cycles=400, sync_kills=40, cli_kills=8, accounts=30, contacts=120, leads=120)

    @classmethod
    def from_env(cls, long: bool = False) -> Profile:
        profile = cls.long() if long or os.environ.get("CONVERSION_SOAK_LONG") == "1" else cls.ci()
        if os.environ.get("CONVERSION_SOAK_CYCLES"):
            profile.cycles = int(os.environ["CONVERSION_SOAK_CYCLES"])
        if os.environ.get("CONVERSION_SOAK_EDIT_BESIDE_UNSENT") == "1":
            profile.edit_beside_unsent = True
        return profile


def seed_from_env() -> int:
    value = os.environ.get("CONVERSION_SOAK_SEED", "").strip()
    # A fixed default keeps CI reproducible; CONVERSION_SOAK_SEED=random (or a number) explores.
    if value == "random":
        return random.SystemRandom().randrange(1, 10**6)
    return int(value) if value else 3


@dataclass
class Figures:
    seed: int
    cycles: int = 0
    failed_cycles: int = 0
    kills: int = 0
    faults: int = 0
    salesforce_edits: int = 0
    conversion_edits: int = 0
    entries: int = 0
    clock_moves: int = 0


def dagster_home(work: Path) -> Path:
    """A real DAGSTER_HOME; in memory when the machine has /dev/shm: Dagster's SQLite storage
    opens and commits a connection per event, and fsync on a busy disk made a cycle 10x slower."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else work
    import tempfile

    work.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="soak-dagster-home-", dir=base))


class SoakDriver(Actions):
    """One soak over one sandbox org, one Conversion database and one DAGSTER_HOME."""

    def __init__(self, org, sandbox_env: dict[str, str], database_url: str, workdir: Path, *,
                 seed: int, profile: Profile | None = None, log: Callable[[str], None] = print) -> None:
        self.org = org
        self.url = database_url
        self.work = Path(workdir)
        self.profile = profile or Profile.ci()
        self.rng = random.Random(seed)
        self.log = log
        self.fig = Figures(seed=seed)
        self.ledger = Ledger()
        self.gap = self.profile.max_skew + 2.0   # no clock orders two writes closer than the skew
        self.skew = 0.0
        self.sf_frozen_until = 0.0               # after the org's clock moved back (see move_clock)
        self.serial = 0
        self.entered: dict[str, dict[str, Any]] = {}     # email -> {"sync": ..., "how": ...}
        self.conversion_born: set[str] = set()           # Contacts created by a Lead conversion
        self.converted_into: set[str] = set()            # existing Contacts a Lead was converted into
        self.deleted: set[str] = set()                   # records deleted or merged away by the driver
        self.seen_contacts: dict[int, dict[str, Any]] = {}
        self.settle_failures: list[str] = []
        self.last_cycle_start = 0.0
        self.just_pushed: list[int] = []
        self.home = dagster_home(self.work)
        shutil.copy(ROOT / "dagster.yaml", self.home / "dagster.yaml")
        (self.work / "sync.yaml").write_text(SETTINGS)
        self.env = {**sandbox_env, "CONVERSION_DATABASE_URL": database_url,
                    "CONVERSION_SYNC_CONFIG": str(self.work / "sync.yaml"),
                    "CONVERSION_SYNC_SETTLE_SECONDS": "0", "DAGSTER_HOME": str(self.home)}
        self.engine = None
        self.instance: dg.DagsterInstance | None = None

    # ------------------------------------------------------------------ the run
    def start(self) -> None:
        """Call once the environment holds `self.env` (the test's monkeypatch, or the runner)."""
        self.log(f"soak seed={self.fig.seed} (reproduce: CONVERSION_SOAK_SEED={self.fig.seed})")
        self.engine = open_engine(self.url)
        self.instance = dg.DagsterInstance.get()     # storage created once, by this process
        self.org.advance_clock(-self.profile.max_skew)   # the org starts behind our clock (finding 1)
        self.skew = -self.profile.max_skew
        gen.generate_demo_org(self.org, accounts=self.profile.accounts, contacts=self.profile.contacts,
                              leads=self.profile.leads, seed=self.fig.seed, history_days=3)
        self.cycle()

    def close(self) -> None:
        if self.instance is not None:
            self.instance.dispose()
        shutil.rmtree(self.home, ignore_errors=True)

    def run(self) -> Figures:
        self.start()
        p = self.profile
        kill_at = set(self.rng.sample(range(2, p.cycles), min(p.sync_kills, p.cycles - 2)))
        cli_kill_at = set(self.rng.sample(range(2, p.cycles), min(p.cli_kills, p.cycles - 2)))
        for number in range(p.cycles):
            for _ in range(self.rng.randint(1, 4)):
                self.act()
            if number in cli_kill_at:
                self.killed_import()
            if number in kill_at:
                self.killed_sync()
            else:
                self.cycle()
            self.snapshot()
        self.settle()
        return self.fig

    def settle(self) -> None:
        """Faults off, then clean cycles until nothing waits out a backoff (bounded), the last
        of them starting once our clock has passed the org's latest stamp.

        A cycle pulls what Salesforce stamped up to our `now - settle` (R2): with the org's
        clock ahead, an edit is pulled only once our clock passes its SystemModstamp, late by
        the skew but never lost; and the org's stamps never run backwards, so after its clock
        stepped back the latest stamp can still be ahead of ours. Comparing before then would
        report a divergence the next cycle removes (seed 3 on a fast machine: three settle
        cycles in 3 s, the last Salesforce edit stamped ~3 s ahead of our clock)."""
        self.org.clear_faults()
        deadline = time.time() + 60
        horizon = self.latest_org_stamp()
        ahead = f"settling: the org's latest stamp is {horizon.timestamp() - time.time():+.1f} s from our clock"
        self.ledger.note(ahead)
        self.log(f"  {ahead}")
        done = 0
        while done < self.profile.settle_cycles or (self.backoff_pending() and time.time() < deadline) \
                or self.last_cycle_start <= horizon.timestamp():
            if done >= self.profile.settle_cycles and not self.backoff_pending():
                time.sleep(max(0.0, horizon.timestamp() - time.time()) + 0.05)
            result = self.cycle()
            if not result.success:
                self.settle_failures.append(f"settle cycle {done + 1}: {result.error}")
            done += 1
            if done >= self.profile.settle_cycles and self.backoff_pending():
                time.sleep(1)
        self.snapshot()

    def latest_org_stamp(self):
        """The latest SystemModstamp of any person or Account, on the org's clock (and the org's
        now, should nothing be stamped later)."""
        stamps = [self.org.now()]
        for sobject in ("Lead", "Contact", "Account"):
            rows = self.org.query(f"SELECT SystemModstamp FROM {sobject} ORDER BY SystemModstamp DESC LIMIT 1",
                                  include_deleted=True)
            stamps += [r["SystemModstamp"] for r in rows if r["SystemModstamp"] is not None]
        return max(stamps)

    def backoff_pending(self) -> bool:
        with self.engine.connect() as conn:
            # a failed push waiting out its backoff, or queued work the API budget paused (H3)
            return conn.execute(select(contacts.c.id).where(or_(
                contacts.c.push_state == "failed",
                and_(contacts.c.push_state == "queued", contacts.c.push_next_attempt_at.is_not(None)))).limit(1)).first() \
                is not None

    def cycle(self):
        from conversion_sync.runner import run_sync_cycle

        pending = self.push_pending()
        number = self.fig.cycles + 1
        self.ledger.note(f"cycle {number} starts (org clock {self.skew:+.1f} s)")
        self.ledger.note(f"cycle {number} may push this person", pending)
        result = run_sync_cycle(instance=self.instance)
        self.fig.cycles += 1
        if not result.success:
            self.fig.failed_cycles += 1
        self.ledger.note(f"cycle {number} ends: run {result.run_id[:8]} "
                         + ("succeeded" if result.success else f"failed in {result.failed_step}: {result.error}"))
        self.mark_pushes(pending)
        return result

    def push_pending(self) -> set[str]:
        """The persons a push may write now: queued or failed contacts, and every Conversion
        write since the last cycle began."""
        with self.engine.connect() as conn:
            ids = conn.execute(select(contacts.c.id).where(contacts.c.push_state.in_(["queued", "failed"]))).scalars()
            keys = {f"c{i}" for i in ids}
        keys |= {k for k, at in self.ledger.last_cv_write.items() if at >= self.last_cycle_start}
        self.last_cycle_start = time.time()
        return keys

    def mark_pushes(self, keys: set[str]) -> None:
        """A push is a write in Salesforce stamped with the org's clock: the next Conversion
        write to that person waits out the gap, as after any Salesforce write."""
        now = time.time()
        self.just_pushed = [int(k[1:]) for k in keys if k.startswith("c")]
        for key in keys:
            self.ledger.last_sf_write[key] = max(self.ledger.last_sf_write.get(key, 0.0), now)

    # ------------------------------------------------------------------ kills (real processes)
    def killed_sync(self) -> None:
        """`conversion-sync sync` in a subprocess, SIGKILLed after a random delay or once a given
        step has finished (so during the next extract, the apply or the push)."""
        since = self.org_free_now()
        mode = self.rng.choice(("delay", *EXTRACT_AND_APPLY_STEPS))
        extra = self.rng.uniform(0.0, 0.3) if mode != "delay" else self.rng.uniform(1.5, 6.0)
        proc = subprocess.Popen([CLI, "sync"], env={**os.environ, **self.env}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        pending = self.push_pending()
        number = self.fig.cycles + 1
        self.ledger.note(f"cycle {number} starts: `conversion-sync sync` in a process, to be killed "
                         f"({mode} +{extra:.2f}s; org clock {self.skew:+.1f} s)")
        self.ledger.note(f"cycle {number} may push this person", pending)
        deadline = time.time() + 90
        seen_at = None if mode != "delay" else time.time()
        while proc.poll() is None and time.time() < deadline:
            if seen_at is None and self.step_finished_since(mode, since):
                seen_at = time.time()
            if seen_at is not None and time.time() - seen_at >= extra:
                break
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            self.fig.kills += 1
            self.log(f"  killed `conversion-sync sync` ({mode} +{extra:.2f}s)")
            self.ledger.note(f"cycle {number} killed (SIGKILL; {mode} +{extra:.2f}s)")
        else:
            self.ledger.note(f"cycle {number} ended before the kill (exit {proc.returncode})")
        proc.wait()
        self.fig.cycles += 1
        self.mark_pushes(pending)

    def org_free_now(self):
        import datetime as dt

        return dt.datetime.now(dt.UTC)

    def step_finished_since(self, step: str, since) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(sync_runs.c.run_id).where(
                sync_runs.c.step == step, sync_runs.c.started_at >= since).limit(1)).first() is not None

    def killed_import(self) -> None:
        """`contacts import` of a CSV SIGKILLed part-way, then run again as a person would."""
        rows = [self.new_person() for _ in range(self.rng.randint(20, 40))]
        sync = self.rng.choice(("--sync-to-salesforce", "--skip-salesforce"))
        path = self.write_csv(rows)
        proc = subprocess.Popen([CLI, "contacts", "import", str(path), sync], env={**os.environ, **self.env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(self.rng.uniform(0.5, 4.0))
        if proc.poll() is None:
            proc.kill()
            self.fig.kills += 1
            self.log("  killed `conversion-sync contacts import`")
        proc.wait()
        self.import_rows(rows, sync, path)

    # ------------------------------------------------------------------ one random action
    def act(self) -> None:
        actions = [(14, self.sf_new_lead), (8, self.sf_new_contact), (30, self.sf_edit), (5, self.sf_convert),
                   (4, self.sf_convert_into_existing), (3, self.sf_merge), (4, self.sf_delete), (4, self.sf_touch),
                   (3, self.sf_late_commit), (4, self.sf_lead_for_entry), (10, self.cv_add), (5, self.cv_add_known),
                   (5, self.cv_import), (30, self.cv_set), (3, self.cv_push), (5, self.move_clock),
                   (10, self.inject_fault)]
        action = self.rng.choices([a for _, a in actions], [w for w, _ in actions])[0]
        try:
            action()
        except SandboxError as exc:      # a record deleted or locked meanwhile, as in real life
            self.log(f"  {action.__name__}: {exc.code}")

    # ------------------------------------------------------------------ helpers
    def cli(self, argv: list[str], allow_failure: bool = False) -> Any:
        from conversion_sync.cli import main

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(argv)
        if code != 0 and not allow_failure:
            raise AssertionError(f"conversion-sync {' '.join(argv)} exited {code}: {buffer.getvalue()[-500:]}")
        return json.loads(buffer.getvalue()) if "--json" in argv else buffer.getvalue()

    def new_person(self) -> dict[str, str]:
        self.serial += 1
        first, last = gen._person(self.rng)
        return {"email": f"{gen._local(first, last)}.{self.fig.seed}.{self.serial}@soak.example.com",
                "first_name": first, "last_name": last, "title": self.rng.choice(gen.TITLES),
                "phone": self.random_value("phone")}

    def random_value(self, name: str) -> str:
        if name == "first_name":
            return self.rng.choice(gen.FIRST)
        if name == "last_name":
            return self.rng.choice(gen.LAST)
        if name == "title":
            return self.rng.choice(gen.TITLES)
        return f"+1 555 {self.rng.randint(100, 999)} {self.rng.randint(1000, 9999)}"

    def write_csv(self, rows: list[dict[str, str]]) -> Path:
        self.serial += 1
        path = self.work / f"entries-{self.serial}.csv"
        lines = ["Email,First Name,Last Name,Title,Phone"]
        lines += [f"{r['email']},{r['first_name']},{r['last_name']},{r['title']},{r['phone']}" for r in rows]
        path.write_text("\n".join(lines) + "\n")
        return path

    def pick(self, soql: str) -> str | None:
        rows = self.org.query(soql)
        return self.rng.choice(rows)["Id"] if rows else None

    def linked_contact(self, rid: str):
        with self.engine.connect() as conn:
            return conn.execute(select(contacts).where(contacts.c.salesforce_id == to_18(rid))).first()

    def key_of_record(self, rid: str) -> str:
        row = self.linked_contact(rid)
        return f"c{row.id}" if row is not None else f"s{to_18(rid)}"

    def keys(self, rid: str | None, contact_id: int | None) -> list[str]:
        return [k for k in ((f"s{to_18(rid)}" if rid else None), (f"c{contact_id}" if contact_id else None)) if k]

    def sf_writable_now(self) -> bool:
        return time.time() >= self.sf_frozen_until

    def pick_writable(self, sobject: str, with_email: bool = False, recent: bool = False,
                      beside_unsent: bool = False) -> str | None:
        """A live record a Salesforce user may write now: every Conversion write to this person
        has reached Salesforce (else R5's record-level gate, not the sync, decides), or with
        `beside_unsent` any record no Conversion write touched within the gap (the caller then
        edits only a field with no unsent Conversion edit). With `recent`, one the last cycle
        may just have pushed to (a rep answering an update)."""
        if not self.sf_writable_now():
            return None
        where = " WHERE IsConverted = false" if sobject == "Lead" else ""
        if with_email:
            where += (" AND " if where else " WHERE ") + "Email != null"
        rows = self.org.query(f"SELECT Id FROM {sobject}{where}")
        self.rng.shuffle(rows)
        if recent and self.just_pushed:
            with self.engine.connect() as conn:
                ids = set(conn.execute(select(contacts.c.salesforce_id).where(
                    contacts.c.id.in_(self.just_pushed), contacts.c.salesforce_id.is_not(None))).scalars())
            rows = [r for r in rows if to_18(r["Id"]) in ids] or rows
        for row in rows[:8]:
            if self.cv_writes_arrived(sobject, row["Id"]) or (beside_unsent and self.cv_quiet(row["Id"])):
                return row["Id"]
        return None

    def cv_writes_arrived(self, sobject: str, rid: str) -> bool:
        contact = self.linked_contact(rid)
        keys = self.keys(rid, contact.id if contact is not None else None)
        latest = self.ledger.latest(keys)
        if contact is not None and contact.push_state in ("queued", "failed"):
            return False
        record = self.org.get(sobject, rid) or {}
        return all(norm(record.get(COMPARED[name])) == w.value for name, w in latest.items() if w.side == CONVERSION)

    def cv_writable(self, contact_id: int) -> bool:
        """A Conversion write waits out the gap after the last write to this person in Salesforce."""
        with self.engine.connect() as conn:
            rid = conn.execute(select(contacts.c.salesforce_id).where(contacts.c.id == contact_id)).scalar()
        return time.time() - self.ledger.last_write(self.keys(rid, contact_id), SALESFORCE) > self.gap

    def snapshot(self) -> None:
        """Remember every contact seen (R7: the sync never removes one on its own)."""
        with self.engine.connect() as conn:
            for row in conn.execute(select(contacts.c.id, contacts.c.email, contacts.c.origin,
                                           contacts.c.salesforce_id, contacts.c.edited_in_conversion_at)):
                self.seen_contacts[row.id] = dict(row._mapping)
