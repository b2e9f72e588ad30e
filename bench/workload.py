"""The benchmark's workloads, seeded inside the sandbox org's process (bench/run.py).

W1: A Accounts, C Contacts, L Leads (100k / 500k / 500k at scale 1), ~5 % without email, ~5 % of
the Leads converted (with their Contact), ~10 % of the Lead emails shared with a Contact; all an
hour old, so the incremental cycles' lookback sees only the changes made for them.
W2: 10k changes of mixed kinds (edits, new records, conversions, Account moves, deletes).
Names and companies come from the sandbox's demo generator (its word lists), so the records look
like the demo org's.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from bench._sandbox import generator as gen

CHUNK = 50_000


def _email(rng: random.Random, first: str, last: str, n: int, domain: str) -> str:
    return f"{gen._local(first, last)}.{n}@{domain}"


def seed_w1(org, *, scale: float, seed: int = 7) -> dict[str, Any]:
    """Seed W1; returns the counts and a sample of Contact emails (for Conversion's contacts)."""
    rng = random.Random(seed)
    accounts, contacts, leads = int(100_000 * scale), int(500_000 * scale), int(500_000 * scale)
    old = org.now() - dt.timedelta(hours=1)
    stamps = {"CreatedDate": old, "LastModifiedDate": old, "SystemModstamp": old}
    domains, account_ids = [], []
    for base in range(0, accounts, CHUNK):
        rows = []
        for i in range(base, min(accounts, base + CHUNK)):
            name, domain = gen._company(rng)
            domain = f"{i}.{domain}"
            domains.append(domain)
            rows.append({"Name": f"{name} {i}", "Website": f"https://www.{domain}",
                         "Industry": rng.choice(gen.INDUSTRIES), **stamps})
        account_ids.extend(org.seed("Account", rows))
    converted = int(leads * 0.05)
    contact_emails: list[str | None] = []
    contact_ids: list[str] = []
    for base in range(0, contacts, CHUNK):
        rows = []
        for i in range(base, min(contacts, base + CHUNK)):
            first, last = gen._person(rng)
            a = rng.randrange(accounts)
            email = None if rng.random() < 0.05 else _email(rng, first, last, i, domains[a])
            contact_emails.append(email)
            rows.append({"FirstName": first, "LastName": last, "Email": email, "AccountId": account_ids[a],
                         "Title": rng.choice(gen.TITLES), "Department": rng.choice(gen.DEPARTMENTS),
                         "LeadSource": rng.choice(gen.LEAD_SOURCES), **stamps})
        contact_ids.extend(org.seed("Contact", rows))
    lead_ids: list[str] = []
    for base in range(0, leads, CHUNK):
        rows = []
        for i in range(base, min(leads, base + CHUNK)):
            first, last = gen._person(rng)
            row = {"FirstName": first, "LastName": last, "Company": gen._company(rng)[0],
                   "Title": rng.choice(gen.TITLES), "LeadSource": rng.choice(gen.LEAD_SOURCES),
                   "Status": rng.choice(gen.LEAD_STATUSES), **stamps}
            if i < converted:           # converted into the Contact of the same index (its email)
                c = i * (contacts // max(1, converted))
                row.update({"Email": contact_emails[c], "IsConverted": True, "Status": "Closed - Converted",
                            "ConvertedContactId": contact_ids[c],
                            "ConvertedAccountId": account_ids[rng.randrange(accounts)],
                            "ConvertedDate": old.date()})
            elif rng.random() < 0.05:
                row["Email"] = None
            elif rng.random() < 0.10:   # the same person as a Contact
                row["Email"] = contact_emails[rng.randrange(contacts)]
            else:
                row["Email"] = f"{gen._local(first, last)}.l{i}@{gen._company(rng)[1]}"
            rows.append(row)
        lead_ids.extend(org.seed("Lead", rows))
    org.bench_ids = {"Account": account_ids, "Contact": contact_ids, "Lead": lead_ids[converted:]}
    return {"accounts": accounts, "contacts": contacts, "leads": leads, "converted": converted,
            "contact_emails": [e for e in contact_emails if e]}


def changes_w2(org, *, count: int = 10_000, seed: int = 11) -> dict[str, int]:
    """Apply `count` changes of mixed kinds through the org's operator API (current timestamps)."""
    rng = random.Random(seed)
    ids = org.bench_ids
    done: dict[str, int] = {}
    used: set[str] = set()

    def pick(sobject: str) -> str:
        while True:
            rid = rng.choice(ids[sobject])
            if rid not in used:
                used.add(rid)
                return rid

    plan = [("edit_contact", 0.30), ("edit_lead", 0.20), ("new_contact", 0.10), ("new_lead", 0.10),
            ("convert", 0.10), ("move_account", 0.10), ("delete", 0.10)]
    for kind, share in plan:
        n = int(count * share)
        done[kind] = n
        for i in range(n):
            if kind == "edit_contact":
                org.update("Contact", pick("Contact"), {"Title": f"Changed {i}"})
            elif kind == "edit_lead":
                org.update("Lead", pick("Lead"), {"Title": f"Changed {i}"})
            elif kind == "new_contact":
                first, last = gen._person(rng)
                org.create("Contact", {"FirstName": first, "LastName": last, "Email": f"new.c{i}@w2.example",
                                       "AccountId": rng.choice(ids["Account"])})
            elif kind == "new_lead":
                first, last = gen._person(rng)
                org.create("Lead", {"FirstName": first, "LastName": last, "Company": "W2 Co",
                                    "Email": f"new.l{i}@w2.example"})
            elif kind == "convert":
                org.convert_lead(pick("Lead"))
            elif kind == "move_account":
                org.update("Contact", pick("Contact"), {"AccountId": rng.choice(ids["Account"])})
            elif kind == "delete":
                org.delete(*(("Contact", pick("Contact")) if i % 2 else ("Lead", pick("Lead"))))
    return done
