"""`ActivitySimulator`: a background thread that keeps a demo org busy like a sales team would --
creating and editing Leads and Contacts, converting, merging and deleting records, plus system
touches and the occasional late commit -- so a running demo always has something to sync."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import generator as gen
from .errors import SandboxError

if TYPE_CHECKING:
    from .org import SandboxOrg

logger = logging.getLogger(__name__)


class ActivitySimulator:
    """Every `interval_seconds`, perform 1-3 random user actions on the org."""

    def __init__(self, org: SandboxOrg, seed: int | None = None, interval_seconds: float = 5.0) -> None:
        self.org = org
        self.rng = random.Random(seed)
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.actions_done = 0
        self._actions: list[tuple[float, Callable[[], str | None]]] = [
            (20, self.new_lead), (10, self.new_contact), (20, self.edit_lead), (22, self.edit_contact),
            (7, self.convert), (3, self.merge_contacts), (6, self.delete), (8, self.touch), (4, self.late_edit),
        ]

    # ------------------------------------------------------------------ thread
    def start(self) -> ActivitySimulator:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sandbox-activity", daemon=True)
            self._thread.start()
            logger.info("activity simulator started (every %.1fs)", self.interval)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.step()
            except Exception:
                logger.exception("activity step failed")

    def step(self) -> list[str]:
        """One tick: perform 1-3 actions; returns what was done."""
        done = []
        weights = [w for w, _ in self._actions]
        for _ in range(self.rng.randint(1, 3)):
            action = self.rng.choices([a for _, a in self._actions], weights)[0]
            try:
                result = action()
            except SandboxError as exc:  # e.g. a record locked or deleted meanwhile
                result = f"{action.__name__} failed: {exc.code}"
            if result:
                done.append(result)
                self.actions_done += 1
        logger.debug("activity: %s", done)
        return done

    # ------------------------------------------------------------------ picking records
    def _pick(self, sobject: str, live_lead: bool = False) -> str | None:
        with self.org.lock:
            table = self.org.tables[sobject]
            if not table.ids:
                return None
            conv = table.schema.pos("IsConverted") if live_lead else None
            for _ in range(12):
                rid = table.ids[self.rng.randrange(len(table.ids))]
                row = table.rows.get(rid)
                if row is not None and not row[1] and (conv is None or not row[conv]):
                    return rid
        return None

    # ------------------------------------------------------------------ actions
    def new_lead(self) -> str:
        first, last = gen._person(self.rng)
        company, domain = gen._company(self.rng)
        rid = self.org.create("Lead", {"FirstName": first, "LastName": last, "Company": company,
                                       "Email": f"{gen._local(first, last)}@{domain}", "Title": self.rng.choice(gen.TITLES),
                                       "LeadSource": self.rng.choice(gen.LEAD_SOURCES)})
        return f"new lead {rid}"

    def new_contact(self) -> str:
        first, last = gen._person(self.rng)
        account = self._pick("Account")
        domain = gen._company(self.rng)[1]
        rid = self.org.create("Contact", {"FirstName": first, "LastName": last, "AccountId": account,
                                          "Email": f"{gen._local(first, last)}@{domain}",
                                          "Title": self.rng.choice(gen.TITLES)})
        return f"new contact {rid}"

    def edit_lead(self) -> str | None:
        rid = self._pick("Lead", live_lead=True)
        if rid is None:
            return None
        field = self.rng.choice(("Title", "Phone", "Status"))
        value = {"Title": self.rng.choice(gen.TITLES), "Status": self.rng.choice(gen.LEAD_STATUSES),
                 "Phone": f"+1 555 {self.rng.randint(100, 999)} {self.rng.randint(1000, 9999)}"}[field]
        self.org.update("Lead", rid, {field: value})
        return f"edit lead {rid} {field}"

    def edit_contact(self) -> str | None:
        rid = self._pick("Contact")
        if rid is None:
            return None
        field = self.rng.choice(("Title", "MobilePhone", "Department"))
        value = {"Title": self.rng.choice(gen.TITLES), "Department": self.rng.choice(gen.DEPARTMENTS),
                 "MobilePhone": f"+1 555 {self.rng.randint(100, 999)} {self.rng.randint(1000, 9999)}"}[field]
        self.org.update("Contact", rid, {field: value})
        return f"edit contact {rid} {field}"

    def convert(self) -> str | None:
        rid = self._pick("Lead", live_lead=True)
        if rid is None:
            return None
        result = self.org.convert_lead(rid)
        return f"convert lead {rid} -> {result['contact_id']}"

    def merge_contacts(self) -> str | None:
        master, loser = self._pick("Contact"), self._pick("Contact")
        if master is None or loser is None or master == loser:
            return None
        self.org.merge("Contact", master, [loser])
        return f"merge contact {loser} into {master}"

    def delete(self) -> str | None:
        sobject = self.rng.choice(("Lead", "Contact"))
        rid = self._pick(sobject)
        if rid is None:
            return None
        self.org.delete(sobject, rid)
        return f"delete {sobject.lower()} {rid}"

    def touch(self) -> str | None:
        sobject = self.rng.choice(("Lead", "Contact", "Account"))
        rid = self._pick(sobject)
        if rid is None:
            return None
        self.org.touch_system(sobject, rid)
        return f"system touch {sobject.lower()} {rid}"

    def late_edit(self) -> str | None:
        rid = self._pick("Contact")
        if rid is None:
            return None
        self.org.late_commit("Contact", id=rid, fields={"Title": self.rng.choice(gen.TITLES)},
                             seconds_ago=self.rng.randint(20, 120))
        return f"late commit contact {rid}"
