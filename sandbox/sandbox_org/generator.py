"""Deterministic demo data: `generate_demo_org(org, accounts=, contacts=, leads=, seed=, history_days=)`.

Realistic names, companies, titles and places; multi-contact accounts; emails that are sometimes
shared between records (a Lead and a Contact for the same person, duplicate Contacts), upper-case,
padded with spaces or missing; converted Leads (with their Contact); a few deleted and merged
records; timestamps spread over the past `history_days`. The same seed on a fresh org gives the same
records and the same ids (timestamps are offsets from the org clock, so set the clock for
byte-identical runs).
"""

from __future__ import annotations

import logging
import random
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from . import dml
from .values import ms_to_datetime

if TYPE_CHECKING:
    from .org import SandboxOrg

logger = logging.getLogger(__name__)

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Sofia", "Lukas", "Emma", "Noah", "Olivia", "Liam", "Mia", "Lucas", "Chloe", "Hugo", "Ines", "Mateo", "Lea", "Elias", "Nora", "Yuki", "Haruto", "Aiko", "Wei", "Mei", "Arjun", "Priya", "Rahul", "Ananya", "Omar", "Fatima", "Kwame", "Amara", "Diego", "Camila", "Pierre", "Amelie", "Sean", "Siobhan", "Ole", "Ingrid", "Zoe", "D'Arcy", "Rene"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Dubois", "Laurent", "Rossi", "Bianchi", "Tanaka", "Suzuki", "Sato", "Kim", "Park", "Chen", "Wang", "Patel", "Sharma", "Singh", "Okafor", "Mensah", "Silva", "Santos", "O'Brien", "O'Connor", "McDonald", "Kowalski", "Novak", "Jensen", "Larsen"]
COMPANY_A = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli", "Vandelay", "Soylent", "Cyberdyne", "Tyrell", "Aperture", "Gringotts", "Oscorp", "Nakatomi", "Massive", "Dynamic", "Blue", "Sun", "Northwind", "Contoso", "Fabrikam", "Adventure", "Tailspin", "Litware", "Proseware", "Alpine", "Bluewater", "Redwood", "Silverline", "Brightpath", "Evergreen", "Ironclad", "Quantum", "Nimbus", "Polar", "Summit", "Harbor", "Pioneer", "Keystone", "Atlas", "Orion", "Zenith", "Vertex", "Lumen"]
COMPANY_B = ["Works", "Labs", "Systems", "Dynamics", "Industries", "Solutions", "Analytics", "Logistics", "Foods", "Energy", "Health", "Capital", "Media", "Robotics", "Software", "Networks", "Partners", "Consulting", "Manufacturing", "Retail"]
SUFFIX = ("Inc", "LLC", "Ltd", "GmbH", "Group", "Co", "SA", "AG", "PLC", "")
TITLES = ("CEO", "CTO", "CFO", "VP Marketing", "VP Sales", "Head of Growth", "Marketing Manager",
          "Sales Director", "Account Executive", "Product Manager", "Engineering Manager", "Data Engineer",
          "Operations Lead", "Procurement Officer", "Office Manager", "Founder", "Director of IT",
          "Customer Success Manager", "Business Analyst", "Consultant")
INDUSTRIES = ("Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
              "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Finance",
              "Food & Beverage", "Healthcare", "Hospitality", "Insurance", "Manufacturing", "Media", "Retail",
              "Technology", "Telecommunications", "Transportation", "Utilities")
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Not Converted")
DEPARTMENTS = ("Marketing", "Sales", "Finance", "Engineering", "Operations", "IT", "Procurement", "Legal")
PLACES = (("New York", "USA"), ("San Francisco", "USA"), ("Chicago", "USA"), ("Austin", "USA"),
          ("Toronto", "Canada"), ("London", "United Kingdom"), ("Dublin", "Ireland"), ("Paris", "France"),
          ("Lyon", "France"), ("Berlin", "Germany"), ("Munich", "Germany"), ("Madrid", "Spain"),
          ("Milan", "Italy"), ("Amsterdam", "Netherlands"), ("Stockholm", "Sweden"), ("Tokyo", "Japan"),
          ("Singapore", "Singapore"), ("Sydney", "Australia"), ("Sao Paulo", "Brazil"), ("Bangalore", "India"))
DAY_MS = 86_400_000


class _Times:
    """Created/modified/system timestamps spread over the history window."""

    def __init__(self, rng: random.Random, now_ms: int, history_days: int) -> None:
        self.rng = rng
        self.now = now_ms - 60_000
        self.span = max(1, history_days) * DAY_MS

    def stamps(self, after: int | None = None) -> dict[str, Any]:
        rng = self.rng
        start = after if after is not None else self.now - self.span
        created = rng.randint(start, self.now)
        modified = created if rng.random() < 0.4 else rng.randint(created, self.now)
        system = modified if rng.random() < 0.93 else rng.randint(modified, self.now)
        return {"CreatedDate": ms_to_datetime(created), "LastModifiedDate": ms_to_datetime(modified),
                "SystemModstamp": ms_to_datetime(system)}


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST), rng.choice(LAST)


def _local(first: str, last: str) -> str:
    return "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")


def _email_variant(rng: random.Random, email: str) -> str | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.10:
        return email.upper() if rng.random() < 0.5 else email.capitalize()
    if roll < 0.13:
        return f" {email} " if rng.random() < 0.5 else f"{email}  "
    return email


def _company(rng: random.Random) -> tuple[str, str]:
    a, b, suffix = rng.choice(COMPANY_A), rng.choice(COMPANY_B), rng.choice(SUFFIX)
    name = f"{a} {b} {suffix}".strip()
    return name, f"{a}{b}".lower() + rng.choice((".com", ".io", ".co", ".net", ".de", ".fr"))


def generate_demo_org(org: SandboxOrg, accounts: int = 50, contacts: int = 150, leads: int = 150, seed: int = 1,
                      history_days: int = 30) -> dict[str, int]:
    """Fill the org with demo Accounts, Contacts and Leads; returns counts by kind."""
    rng = random.Random(seed)
    times = _Times(rng, org.clock.now_ms(), history_days)
    account_rows, domains = [], []
    for _ in range(accounts):
        name, domain = _company(rng)
        city, country = rng.choice(PLACES)
        domains.append(domain)
        account_rows.append({"Name": name, "Website": f"https://www.{domain}", "Industry": rng.choice(INDUSTRIES),
                             "Phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                             "BillingCity": city, "BillingCountry": country,
                             "NumberOfEmployees": rng.choice((8, 25, 60, 120, 450, 1200, 5000)), **times.stamps()})
    account_ids = org.seed("Account", account_rows) if account_rows else []
    cum_weights = list(accumulate(1.0 / (i + 1) ** 0.7 for i in range(len(account_ids))))
    account_index = {aid: n for n, aid in enumerate(account_ids)}
    converted = min(leads // 10, contacts // 4) if account_ids else 0
    lead_rows: list[dict[str, Any]] = []
    contact_rows: list[dict[str, Any]] = []
    emails: list[str] = []
    for n in range(contacts):
        first, last = _person(rng)
        account = rng.choices(range(len(account_ids)), cum_weights=cum_weights)[0] if account_ids and rng.random() < 0.88 else None
        domain = domains[account] if account is not None else _company(rng)[1]
        email = f"{_local(first, last)}@{domain}"
        if emails and rng.random() < 0.04:
            email = rng.choice(emails)
        emails.append(email.strip().lower())
        city, country = rng.choice(PLACES)
        row = {"FirstName": first, "LastName": last, "Email": _email_variant(rng, email),
               "AccountId": account_ids[account] if account is not None else None, "Title": rng.choice(TITLES),
               "Phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
               "MobilePhone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}" if rng.random() < 0.5 else None,
               "Department": rng.choice(DEPARTMENTS), "LeadSource": rng.choice(LEAD_SOURCES),
               "MailingCity": city, "MailingCountry": country, **times.stamps()}
        if n >= contacts - converted:  # this Contact came from a converted Lead
            row["AccountId"] = row["AccountId"] or account_ids[rng.randrange(len(account_ids))]
            lead_rows.append({"FirstName": first, "LastName": last, "Email": row["Email"], "Title": row["Title"],
                              "Company": account_rows[account_index[row["AccountId"]]]["Name"],
                              "Phone": row["Phone"], "LeadSource": row["LeadSource"], "City": city, "Country": country,
                              "Status": "Closed - Converted", "IsConverted": True,
                              "ConvertedDate": row["CreatedDate"].date(), "ConvertedAccountId": row["AccountId"],
                              "CreatedDate": ms_to_datetime(times.now - times.span),
                              "LastModifiedDate": row["CreatedDate"], "SystemModstamp": row["CreatedDate"]})
        contact_rows.append(row)
    contact_ids = org.seed("Contact", contact_rows) if contact_rows else []
    for lead, cid in zip(lead_rows, contact_ids[len(contact_ids) - converted:], strict=False):
        lead["ConvertedContactId"] = cid
    for _ in range(leads - converted):
        first, last = _person(rng)
        # the same person as a Contact, or a second Lead for someone
        email = rng.choice(emails) if emails and rng.random() < 0.2 else f"{_local(first, last)}@{_company(rng)[1]}"
        emails.append(email)
        company = rng.choice(account_rows)["Name"] if account_rows and rng.random() < 0.3 else _company(rng)[0]
        city, country = rng.choice(PLACES)
        lead_rows.append({"FirstName": first, "LastName": last, "Email": _email_variant(rng, email), "Company": company,
                          "Title": rng.choice(TITLES), "Phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                          "LeadSource": rng.choice(LEAD_SOURCES), "Status": rng.choice(LEAD_STATUSES),
                          "Industry": rng.choice(INDUSTRIES), "Website": f"https://{_company(rng)[1]}",
                          "City": city, "Country": country, **times.stamps()})
    lead_ids = org.seed("Lead", lead_rows) if lead_rows else []
    deleted = _retire(org, rng, times, "Contact", contact_ids[: len(contact_ids) - converted], contact_rows)
    deleted += _retire(org, rng, times, "Lead", lead_ids[converted:], lead_rows[converted:])
    summary = {"accounts": len(account_ids), "contacts": len(contact_ids), "leads": len(lead_ids),
               "converted_leads": converted, "deleted_or_merged": deleted}
    logger.info("demo org generated: %s", summary)
    return summary


def _retire(org: SandboxOrg, rng: random.Random, times: _Times, sobject: str, ids: list[str],
            rows: list[dict[str, Any]]) -> int:
    """Delete ~2% and merge ~1% of the records (merges into a record of the same account)."""
    count = 0
    with org.lock:
        table = org.tables[sobject]
        for n, rid in enumerate(ids):
            roll = rng.random()
            if roll >= 0.03 or len(ids) < 3:
                continue
            stamp = rng.randint(int(rows[n]["SystemModstamp"].timestamp() * 1000), times.now)
            changes: dict[str, Any] = {"IsDeleted": True}
            if roll < 0.01:
                master = ids[(n + 1) % len(ids)]
                if table.rows[master][1]:
                    continue
                changes["MasterRecordId"] = master
            dml.set_system_fields(table, rid, changes, stamp, True, org.sales_user_id)
            count += 1
    return count
