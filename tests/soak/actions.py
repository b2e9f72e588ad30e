"""The soak's users: what Salesforce users, Conversion users and the world around do between
cycles (a mixin of SoakDriver, which holds the org, the store, the ledger and the helpers)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from sandbox_org import generator as gen
from sqlalchemy import select

from conversion_sync.store.schema import contacts
from conversion_sync.sync.ids import to_18
from tests.soak.ledger import COMPARED, CONVERSION, SALESFORCE, norm

CLI = str(Path(__import__("sys").executable).with_name("conversion-sync"))


class Actions:
    # -- Salesforce users
    def sf_new_lead(self) -> None:
        person = self.new_person()
        fields = {"FirstName": person["first_name"], "LastName": person["last_name"], "Email": person["email"],
                  "Title": person["title"], "Phone": person["phone"], "Company": gen._company(self.rng)[0]}
        if not self.sf_writable_now():
            return
        rid = self.org.create("Lead", fields)
        self.ledger.record(f"s{rid}", SALESFORCE, person, "new Lead")
        self.fig.salesforce_edits += 1

    def sf_new_contact(self) -> None:
        person = self.new_person()
        account = self.pick("SELECT Id FROM Account")
        fields = {"FirstName": person["first_name"], "LastName": person["last_name"], "Email": person["email"],
                  "Title": person["title"], "Phone": person["phone"], "AccountId": account}
        if not self.sf_writable_now():
            return
        rid = self.org.create("Contact", fields)
        self.ledger.record(f"s{rid}", SALESFORCE, person, "new Contact")
        self.fig.salesforce_edits += 1

    def sf_edit(self) -> None:
        sobject = self.rng.choice(("Lead", "Contact"))
        rid = self.pick_writable(sobject, recent=self.rng.random() < 0.5,
                                 beside_unsent=self.profile.edit_beside_unsent)
        if rid is None:
            return
        names = [n for n in COMPARED if n not in self.unsent_fields(sobject, rid)] \
            if self.profile.edit_beside_unsent else list(COMPARED)
        if not names:
            return
        name = self.rng.choice(names)
        value = self.random_value(name)
        if norm(self.org.get(sobject, rid).get(COMPARED[name])) == value:
            return
        self.org.update(sobject, rid, {COMPARED[name]: value})
        self.ledger.record(self.key_of_record(rid), SALESFORCE, {name: value}, f"edit {sobject} {rid}",
                           stamp=self.org.get(sobject, rid).get("LastModifiedDate"))
        self.fig.salesforce_edits += 1

    def sf_convert(self) -> None:
        rid = self.pick_writable("Lead")
        if rid is None:
            return
        result = self.org.convert_lead(rid)
        self.conversion_born.add(to_18(result["contact_id"]))
        self.structural(result["contact_id"], f"convert Lead {rid}")

    def sf_convert_into_existing(self) -> None:
        lead, contact = self.pick_writable("Lead"), self.pick_writable("Contact", with_email=True)
        if lead is None or contact is None:
            return
        self.org.convert_lead(lead, contact_id=contact)
        self.converted_into.add(to_18(contact))
        self.structural(contact, f"convert Lead {lead} into existing Contact")

    def sf_merge(self) -> None:
        master, loser = self.pick_writable("Contact"), self.pick_writable("Contact")
        if master is None or loser is None or master == loser:
            return
        self.org.merge("Contact", master, [loser])
        self.deleted.add(to_18(loser))
        self.structural(master, f"merge Contact {loser} into it")

    def sf_delete(self) -> None:
        sobject = self.rng.choice(("Lead", "Contact"))
        rid = self.pick_writable(sobject)
        if rid is None:
            return
        self.org.delete(sobject, rid)
        self.deleted.add(to_18(rid))
        self.fig.salesforce_edits += 1

    def sf_touch(self) -> None:
        sobject = self.rng.choice(("Lead", "Contact", "Account"))
        rid = self.pick(f"SELECT Id FROM {sobject}")
        if rid is not None:
            self.org.touch_system(sobject, rid)

    def sf_late_commit(self) -> None:
        rid = self.pick_writable("Contact")
        if rid is not None:   # an unmapped field: it exercises the lookback, not the ledger
            self.org.late_commit("Contact", id=rid, fields={"Department": self.rng.choice(gen.DEPARTMENTS)},
                                 seconds_ago=self.rng.randint(5, 120))

    def sf_lead_for_entry(self) -> None:
        """A sales rep creates a Lead for a person that entered Conversion and is not in
        Salesforce yet (say, while the push waits out a fault)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(contacts.c.id, contacts.c.email).where(
                contacts.c.salesforce_id.is_(None), contacts.c.origin != "salesforce",
                contacts.c.email.is_not(None))).all()
        rows = [r for r in rows if time.time() - self.ledger.last_write([f"c{r.id}"], CONVERSION) > self.gap]
        if not rows or not self.sf_writable_now():
            return
        row = self.rng.choice(rows)
        person = self.new_person()
        rid = self.org.create("Lead", {"FirstName": person["first_name"], "LastName": person["last_name"],
                                       "Email": row.email, "Title": person["title"], "Phone": person["phone"],
                                       "Company": gen._company(self.rng)[0]})
        self.ledger.record(f"s{rid}", SALESFORCE, {k: v for k, v in person.items() if k != "email"},
                           f"new Lead for contact {row.id}'s email")
        self.fig.salesforce_edits += 1

    def cv_quiet(self, rid: str) -> bool:
        """No Conversion write to this person within the gap (no clock could order the two)."""
        contact = self.linked_contact(rid)
        keys = self.keys(rid, contact.id if contact is not None else None)
        return time.time() - self.ledger.last_write(keys, CONVERSION) > self.gap

    def unsent_fields(self, sobject: str, rid: str) -> set[str]:
        """The compared fields whose last write was in Conversion and Salesforce does not hold yet."""
        contact = self.linked_contact(rid)
        latest = self.ledger.latest(self.keys(rid, contact.id if contact is not None else None))
        record = self.org.get(sobject, rid) or {}
        return {name for name, w in latest.items()
                if w.side == CONVERSION and norm(record.get(COMPARED[name])) != w.value}

    def structural(self, rid: str, what: str) -> None:
        """A conversion or merge rewrites the surviving record: an SF write of all its fields."""
        record = self.org.get("Contact", rid)
        self.ledger.record(self.key_of_record(rid), SALESFORCE,
                           {name: record.get(sf) for name, sf in COMPARED.items()}, what)
        self.fig.salesforce_edits += 1

    # -- Conversion users (the CLI, in process; real processes for the kills)
    def cv_add(self) -> None:
        person = self.new_person()
        sync = "--sync-to-salesforce" if self.rng.random() < 0.7 else "--skip-salesforce"
        out = self.cli(["contacts", "add", "--json", "--email", person["email"], "--first-name",
                        person["first_name"], "--last-name", person["last_name"], "--title", person["title"],
                        "--phone", person["phone"], sync])
        self.entered[person["email"]] = {"sync": sync, "how": "contacts add"}
        self.ledger.record(f"c{out['contact_id']}", CONVERSION, person, "contacts add")
        self.fig.entries += 1

    def cv_add_known(self) -> None:
        """A person Salesforce already knows fills a form: the entry carries only the email."""
        sobject = self.rng.choice(("Lead", "Contact"))
        rows = self.org.query(f"SELECT Email FROM {sobject} WHERE Email != null"
                              + (" AND IsConverted = false" if sobject == "Lead" else ""))
        if not rows:
            return
        email = self.rng.choice(rows)["Email"].strip()
        self.cli(["contacts", "add", "--json", "--email", email, "--sync-to-salesforce"])
        self.entered.setdefault(email.lower(), {"sync": "--sync-to-salesforce", "how": "contacts add (known)"})
        self.fig.entries += 1

    def cv_import(self) -> None:
        rows = [self.new_person() for _ in range(self.rng.randint(2, 5))]
        sync = self.rng.choice(("--sync-to-salesforce", "--skip-salesforce"))
        self.import_rows(rows, sync, self.write_csv(rows))

    def import_rows(self, rows: list[dict[str, str]], sync: str, path: Path) -> None:
        self.cli(["contacts", "import", str(path), sync])
        with self.engine.connect() as conn:
            ids = dict(conn.execute(select(contacts.c.email_key, contacts.c.id).where(
                contacts.c.email_key.in_([r["email"] for r in rows]))).all())
        for row in rows:
            self.entered[row["email"]] = {"sync": sync, "how": "contacts import"}
            if row["email"] in ids:
                self.ledger.record(f"c{ids[row['email']]}", CONVERSION, row, "contacts import")
        self.fig.entries += len(rows)

    def cv_set(self) -> None:
        with self.engine.connect() as conn:
            ids = conn.execute(select(contacts.c.id)).scalars().all()
        ids = [i for i in ids if self.cv_writable(i)]
        if not ids:
            return
        contact_id = self.rng.choice(ids)
        name = self.rng.choice(list(COMPARED))
        value = self.random_value(name)
        argv = ["contacts", "set", str(contact_id), name, value]
        what = "contacts set"
        if self.rng.random() < 0.1:   # now and then the real command line, in its own process
            subprocess.run([CLI, *argv], env={**os.environ, **self.env}, check=True, capture_output=True)
            what += " (in its own process)"
        else:
            self.cli(argv)
        self.ledger.record(f"c{contact_id}", CONVERSION, {name: value}, what)
        self.fig.conversion_edits += 1

    def cv_push(self) -> None:
        """`contacts push ID` on a contact already linked (often nothing to send)."""
        with self.engine.connect() as conn:
            ids = conn.execute(select(contacts.c.id).where(contacts.c.salesforce_id.is_not(None))).scalars().all()
        if ids:
            pending = self.push_pending()
            contact_id = self.rng.choice(ids)
            self.ledger.note(f"`contacts push {contact_id}` (a push run) may push this person", pending)
            self.cli(["contacts", "push", str(contact_id)], allow_failure=True)
            self.mark_pushes(pending)

    # -- the world around
    def move_clock(self) -> None:
        """Skew the org's clock to a new offset within +-max_skew, either direction."""
        target = round(self.rng.uniform(-self.profile.max_skew, self.profile.max_skew), 1)
        delta = target - self.skew
        if delta < 0:
            # Salesforce's own stamps of one record never run backwards in a real org: the
            # driver's users wait out the step back before they write again.
            self.sf_frozen_until = max(self.sf_frozen_until, time.time() - delta + 1.0)
        self.org.advance_clock(delta)
        self.skew = target
        self.ledger.note(f"org clock moved to {target:+.1f} s from ours")
        self.log(f"  org clock moved to {target:+.1f} s from ours")
        self.fig.clock_moves += 1

    def inject_fault(self) -> None:
        kind = self.rng.choice(("http_500", "http_503", "expired_session", "request_limit", "lock_row", "timeout",
                                "drop_after_write", "expire_tokens", "lock_record"))
        if kind == "expire_tokens":
            self.org.expire_tokens()
        elif kind == "lock_record":
            rid = self.pick("SELECT Id FROM Lead WHERE IsConverted = false") or self.pick("SELECT Id FROM Contact")
            if rid is None:
                return
            self.org.lock_record(rid, times=self.rng.randint(1, 3))
            self.ledger.note(f"fault armed: record {rid} locked", [self.key_of_record(rid)])
        else:
            # API paths only: a real org never answers INVALID_SESSION_ID on its token endpoint.
            path = self.rng.choice((r"/services/data/.*/query", r"/composite/sobjects", r"/limits", r"/sobjects/",
                                    r"/services/data/"))
            params: dict[str, Any] = {}
            if kind == "timeout":
                params = {"seconds": self.rng.uniform(0.5, 2.0), "apply": self.rng.random() < 0.5}
            if kind in ("drop_after_write", "lock_row"):
                path = r"/composite/sobjects"
            self.org.inject_fault(kind, path=path, times=self.rng.randint(1, 2), **params)
            self.ledger.note(f"fault armed: {kind} on {path} {params or ''}")
        self.fig.faults += 1
