"""The demo org generator: deterministic, realistic, with the awkward cases the sync must handle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox_org.generator import generate_demo_org
from sandbox_org.org import SandboxOrg

CLOCK = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _org(seed=7, **sizes):
    org = SandboxOrg()
    org.set_clock(CLOCK)
    summary = generate_demo_org(org, **{"accounts": 40, "contacts": 200, "leads": 200, "seed": seed, **sizes})
    return org, summary


def _dump(org):
    return {name: org.query(f"SELECT {', '.join(f.name for f in org.tables[name].schema.fields)} FROM {name} "
                            "ORDER BY Id", include_deleted=True) for name in ("Account", "Contact", "Lead")}


def test_same_seed_same_records_and_ids():
    first, summary = _org()
    second, _ = _org()
    a, b = _dump(first), _dump(second)
    assert [r["Id"] for r in a["Lead"]] == [r["Id"] for r in b["Lead"]]
    assert [{k: v for k, v in r.items() if k not in ("CreatedDate", "LastModifiedDate", "SystemModstamp")}
            for r in a["Contact"]] == [{k: v for k, v in r.items() if k not in ("CreatedDate", "LastModifiedDate",
                                                                              "SystemModstamp")}
                                       for r in b["Contact"]]
    assert summary["accounts"] == 40 and summary["contacts"] == 200 and summary["leads"] == 200
    other, _ = _org(seed=8)
    assert [r["Email"] for r in _dump(other)["Contact"]] != [r["Email"] for r in a["Contact"]]


def test_awkward_emails_conversions_and_history():
    org, summary = _org(contacts=400, leads=400)
    contacts = org.query("SELECT Id, Email, AccountId, CreatedDate, SystemModstamp, LastModifiedDate FROM Contact")
    emails = [c["Email"] for c in contacts]
    assert any(e is None for e in emails)
    assert any(e and e != e.strip() for e in emails)
    assert any(e and e.strip() != e.strip().lower() for e in emails)
    normalised = [e.strip().lower() for e in emails if e]
    assert len(set(normalised)) < len(normalised)  # some contacts share an email
    lead_emails = {r["Email"].strip().lower() for r in org.query("SELECT Email FROM Lead WHERE Email != null")}
    assert lead_emails & set(normalised)  # some leads are the same person as a contact
    per_account: dict[str, int] = {}
    for c in contacts:
        if c["AccountId"]:
            per_account[c["AccountId"]] = per_account.get(c["AccountId"], 0) + 1
    assert max(per_account.values()) >= 5
    converted = org.query("SELECT Id, ConvertedContactId, ConvertedAccountId FROM Lead WHERE IsConverted = true")
    assert len(converted) == summary["converted_leads"] > 0
    for lead in converted:
        assert org.get("Contact", lead["ConvertedContactId"])["AccountId"] == lead["ConvertedAccountId"]
    oldest = min(c["CreatedDate"] for c in contacts)
    assert CLOCK - timedelta(days=31) <= oldest < CLOCK - timedelta(days=20)
    assert all(c["CreatedDate"] <= c["LastModifiedDate"] <= c["SystemModstamp"] <= CLOCK for c in contacts)
    assert org.count("Contact", include_deleted=True) > org.count("Contact")
    assert org.query("SELECT COUNT() FROM Contact WHERE MasterRecordId != null", include_deleted=True)[0]["count"] >= 1
