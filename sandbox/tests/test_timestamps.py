"""CreatedDate / LastModifiedDate / SystemModstamp as Salesforce keeps them, the org clock and
late commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simple_salesforce import format_soql

FIELDS = "CreatedDate, LastModifiedDate, SystemModstamp"


def _stamps(sf, sobject, record_id):
    row = sf.query(f"SELECT {FIELDS} FROM {sobject} WHERE Id = '{record_id}'", include_deleted=True)["records"][0]
    return row["CreatedDate"], row["LastModifiedDate"], row["SystemModstamp"]


def test_create_sets_all_three_and_update_bumps_both(org, sf):
    lead = sf.Lead.create({"LastName": "T", "Company": "C"})["id"]
    created, modified, system = _stamps(sf, "Lead", lead)
    assert created == modified == system and system.endswith("+0000") and len(system) == 28
    sf.Lead.update(lead, {"Title": "x"})
    c2, m2, s2 = _stamps(sf, "Lead", lead)
    assert c2 == created and m2 == s2 and m2 > modified


def test_touch_system_bumps_only_system_modstamp(org, sf):
    contact = org.create("Contact", {"LastName": "T"})
    _, modified, system = _stamps(sf, "Contact", contact)
    org.touch_system("Contact", contact)
    _, m2, s2 = _stamps(sf, "Contact", contact)
    assert m2 == modified and s2 > system


def test_delete_and_undelete_bump_both(org, sf):
    account = org.create("Account", {"Name": "A"})
    _, modified, _ = _stamps(sf, "Account", account)
    sf.Account.delete(account)
    _, m2, s2 = _stamps(sf, "Account", account)
    assert m2 == s2 and m2 > modified
    org.undelete("Account", account)
    _, m3, s3 = _stamps(sf, "Account", account)
    assert m3 == s3 and m3 > m2 and sf.Account.get(account)["IsDeleted"] is False


def test_stamps_never_go_back_never_run_ahead_and_are_utc_milliseconds(org):
    """A burst of writes shares stamps (ties, as in Salesforce) instead of running the clock into
    the future, which would hide records from a window ending at now."""
    ids = [org.create("Contact", {"LastName": str(i)}) for i in range(3000)]
    stamps = [org.get("Contact", i)["SystemModstamp"] for i in ids]
    assert stamps == sorted(stamps) and len(set(stamps)) < len(stamps)
    assert stamps[-1] <= org.now()
    assert all(s.tzinfo == UTC and s.microsecond % 1000 == 0 for s in stamps)
    org.update("Contact", ids[-1], {"Title": "Again"})       # but one record's stamp always moves on
    assert org.get("Contact", ids[-1])["SystemModstamp"] > stamps[-1]


def test_clock_can_be_set_and_advanced(org, sf):
    org.set_clock(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    first = sf.Lead.create({"LastName": "Future", "Company": "C"})["id"]
    assert _stamps(sf, "Lead", first)[0].startswith("2030-01-02T03:04:0")
    org.advance_clock(3600)
    assert org.now() >= datetime(2030, 1, 2, 4, 4, 5, tzinfo=UTC)
    second = org.create("Lead", {"LastName": "Later", "Company": "C"})
    assert org.get("Lead", second)["CreatedDate"] >= datetime(2030, 1, 2, 4, 4, 5, tzinfo=UTC)
    org.use_real_clock()
    assert abs(org.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_late_commit_becomes_visible_behind_the_watermark(org, sf):
    early = org.create("Contact", {"LastName": "Early"})
    watermark = org.now()
    org.advance_clock(10)
    late = org.late_commit("Contact", fields={"LastName": "Late"}, seconds_ago=30)
    late_row = org.get("Contact", late)
    assert late_row["SystemModstamp"] < watermark and late_row["LastModifiedDate"] == late_row["SystemModstamp"]
    strict = format_soql("SELECT Id FROM Contact WHERE SystemModstamp > {}", watermark)
    assert late not in {r["Id"] for r in sf.query(strict)["records"]}
    with_lookback = format_soql("SELECT Id FROM Contact WHERE SystemModstamp > {}", watermark - timedelta(minutes=5))
    assert {r["Id"] for r in sf.query(with_lookback)["records"]} == {early, late}
    org.late_commit("Contact", id=early, fields={"Title": "Edited late"}, seconds_ago=60)
    assert org.get("Contact", early)["Title"] == "Edited late"
    assert org.get("Contact", early)["SystemModstamp"] < watermark
