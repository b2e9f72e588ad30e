"""Push rules, pure: which contacts have push work due (H2), what a new Salesforce record gets and
which Account a new Contact joins (P4), how look-ups are batched and rejections named, and what
the mirror and the field clocks say after one of our writes (R5: Salesforce's timestamps are the
only clock for Salesforce data).

A contact's push state is one of:

* `None`      never asked to go to Salesforce (it came from there, or holds nothing to send);
* `skipped`   its entry skipped the initial sync (P1); waits for a person or a workflow (P3);
* `queued`    waits to be linked or created (P4) or to send an edit (P5);
* `failed`    Salesforce refused it (or gave no answer); retried once `push_next_attempt_at` passes;
* `needs_attention`  refused `push_max_attempts` times; waits for a person (`contacts push ID`);
* `pushed`    done: linked, and nothing newer in Conversion than what Salesforce holds.

Only `queued` and `failed` are work, and only once their backoff has passed. A push run leaves
none of its contacts `queued`: each ends `pushed`, `failed` or `needs_attention`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conversion_sync.sync.fields import FieldMapping, Preference, normalize_value
from conversion_sync.sync.ids import object_for_id
from conversion_sync.sync.model import ContactState
from conversion_sync.sync.records import PulledRecord
from conversion_sync.sync.values import email_domain

QUEUED, FAILED, PUSHED, SKIPPED, GAVE_UP = "queued", "failed", "pushed", "skipped", "needs_attention"
WAITING = (QUEUED, FAILED)          # the states that are push work

# A field we wrote is stamped this much before Salesforce's LastModifiedDate of the write.
OUR_WRITE_MARGIN = dt.timedelta(microseconds=1)
# The stamps of a record Salesforce has never answered for (a mirror row written from a create
# whose read-back failed): older than anything Salesforce holds.
UNKNOWN_STAMP = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

LOOKUP_LIMIT = 200            # emails per look-up query: one batch of creates
LOOKUP_CHARS = 8_000          # and at most this many characters of emails (the query goes in the URL)
# What a new record's required fields get when Conversion holds no value for them (P4).
NOT_PROVIDED = "[not provided]"
# Preferences under which Conversion never sends a value, not even on create (R5).
_NEVER_SENT = (Preference.DO_NOT_SYNC, Preference.ALWAYS_PREFER_SALESFORCE)
_ERROR_CODE = re.compile(r"\s*([A-Z][A-Z0-9_]{2,})\s*:")


def push_due(state: str | None, next_attempt_at: dt.datetime | None, now: dt.datetime) -> bool:
    """H2: does this contact have push work that can be done now?"""
    return state in WAITING and (next_attempt_at is None or next_attempt_at <= now)


def stamp_of_our_write(last_modified_date: dt.datetime) -> dt.datetime:
    """R5: the `updated_at` a field takes once we wrote it to Salesforce: just before
    Salesforce's own LastModifiedDate of that write, on Salesforce's clock, whatever ours says.

    So a later Salesforce edit of the record, even one stamped the same millisecond, passes the
    pull's gate, and the mirror compare tells it from the echo of our write; and the push sees
    the field as no newer than the record, so it never sends it again."""
    return last_modified_date - OUR_WRITE_MARGIN


def stamp_of_unconfirmed_write(last_known_modified: dt.datetime | None) -> dt.datetime:
    """R5: the `updated_at` a field takes once we wrote it to Salesforce without learning
    Salesforce's stamp of the write (the read-back got no answer): just before the record's
    LastModifiedDate as last known before our write (for a record we created, before anything).

    Salesforce stamps our write, and every later edit, at or after that, so a later edit always
    passes the pull's gate and the mirror (which holds what we wrote) tells it from the echo of our
    write. Our clock's stamp of the Conversion edit would not do: with the org's clock behind ours,
    a Salesforce edit made after our write looks older than it, and is kept out for good."""
    return (last_known_modified or UNKNOWN_STAMP) - OUR_WRITE_MARGIN


def arrived_fields(mappings: Iterable[FieldMapping], sobject: str, values: Mapping[str, Any],
                   updated_at: Mapping[str, dt.datetime | None], salesforce_fields: Mapping[str, Any],
                   record_modified: dt.datetime, *, pending: bool) -> dict[str, dt.datetime | None]:
    """R5: the Conversion fields that Salesforce already holds as they are, stamped after the
    record's LastModifiedDate: {field: its updated_at as read}. The push has nothing to send for
    them, and their stamps move onto Salesforce's clock (`stamp_of_our_write(record_modified)`).

    Such a field is a write of ours whose confirmation was never recorded (the process died
    between the write and its commit), or the same value set on both sides; left on our clock, a
    later Salesforce edit of it would lose to the gate whenever the org's clock is behind ours.
    Not while the record has a Salesforce change waiting to be applied (`pending`): the apply
    decides first."""
    if pending:
        return {}
    found: dict[str, dt.datetime | None] = {}
    for mapping in mappings:
        sf_field = mapping.salesforce.get(sobject)
        at = updated_at.get(mapping.field)
        if (not sf_field or sf_field not in salesforce_fields or mapping.preference is Preference.DO_NOT_SYNC
                or at is None or at <= record_modified):
            continue
        if normalize_value(values.get(mapping.field)) == normalize_value(salesforce_fields[sf_field]):
            found[mapping.field] = at
    return found


@dataclass(frozen=True)
class MirrorAfterWrite:
    fields: dict[str, Any]             # what Salesforce says now (the read-back)
    applied_fields: dict[str, Any]     # what Conversion holds of it
    applied: bool                      # the two agree: nothing left to apply (else: pending)


def mirror_after_write(*, written: Mapping[str, Any], read_back: PulledRecord,
                       previous_fields: Mapping[str, Any] | None, previous_applied: Mapping[str, Any] | None,
                       previous_pending: bool, expected_account_id: str | None) -> MirrorAfterWrite:
    """The mirror of a record we just wrote, from Salesforce's answer to reading it back.

    Conversion holds what it held of the record plus what we wrote. When Salesforce says exactly
    that, the record is applied (no echo). When it says anything else (another user, a workflow
    or a trigger changed it between our write and the read-back, or an earlier change was still
    waiting to be applied), the record stays pending, so the next apply takes the difference under
    R5 instead of the mirror swallowing it as if Conversion had it."""
    applied = {**(previous_applied or {}), **written}
    expected = {**(previous_fields or {}), **written}
    agrees = (not previous_pending and not read_back.is_deleted and not read_back.is_converted
              and read_back.master_record_id is None and read_back.account_id == expected_account_id
              and all(normalize_value(value) == normalize_value(expected.get(name))
                      for name, value in read_back.fields.items()))
    fields = dict(read_back.fields)
    return MirrorAfterWrite(fields=fields, applied_fields=fields if agrees else applied, applied=agrees)


# -- P4: linking and creating --------------------------------------------------------------------

def object_of_link(salesforce_id: str) -> str:
    """The object a contact's link names, by its key prefix (sync/ids.py): a Lead, else a Contact
    (a contact links to nothing else)."""
    return "Lead" if object_for_id(salesforce_id) == "Lead" else "Contact"


def email_chunks(emails: Sequence[str]) -> list[list[str]]:
    """Emails in groups that keep a look-up query's URL short (real orgs refuse ~16 KB URLs)."""
    chunks: list[list[str]] = [[]]
    size = 0
    for email in emails:
        if chunks[-1] and (len(chunks[-1]) >= LOOKUP_LIMIT or size + len(email) + 4 > LOOKUP_CHARS):
            chunks.append([])
            size = 0
        chunks[-1].append(email)
        size += len(email) + 4
    return [chunk for chunk in chunks if chunk]


def pick_unclaimed(found: Sequence[PulledRecord], claimed: Collection[str]) -> PulledRecord | None:
    """P4: the record a look-up by email links a contact to: the first found (Contacts before
    Leads, newest first) that no other contact links."""
    return next((record for record in found if record.salesforce_id not in claimed), None)


def website_domain(website: str) -> str:
    """A company website's domain, as an email's domain would read it: lower case, without the
    scheme, the path or a leading www."""
    return website.lower().split("//")[-1].split("/")[0].removeprefix("www.")


def accounts_by_domain(websites: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Email domain -> Account id, from (website, Account id) pairs in the order given: the first
    company with a domain wins."""
    domains: dict[str, str] = {}
    for website, account_id in websites:
        domains.setdefault(website_domain(website), account_id)
    return domains


def new_record(contact: ContactState, sobject: str, mappings: Iterable[FieldMapping], *,
               createable: Collection[str], external_id_field: str | None = None,
               accounts: Mapping[str, str] | None = None) -> dict[str, Any]:
    """P4: the record a create sends for `contact` (sObject Collections form, with `attributes`).

    Every mapped field Conversion holds a value for, when the org lets a create set it
    (`createable`: visible and createable) and its preference lets Conversion's value out; the
    required LastName (and a Lead's Company: the contact's company name) as "[not provided]"
    when Conversion has none; a new Contact the Account whose company website has the email's
    domain (`accounts`); and the contact's id in the external-id field, when the org has one, so
    a retried create is an upsert that can never make a second record."""
    record: dict[str, Any] = {"attributes": {"type": sobject}}
    for mapping in mappings:
        sf_field = mapping.salesforce.get(sobject)
        value = contact.values.get(mapping.field)
        if not sf_field or value is None or sf_field not in createable or mapping.preference in _NEVER_SENT:
            continue
        record[sf_field] = value
    record.setdefault("LastName", NOT_PROVIDED)           # required on Lead and Contact
    if sobject == "Lead":
        record.setdefault("Company", contact.values.get("company_name") or NOT_PROVIDED)
    elif accounts:
        domain = email_domain(contact.values.get("email"))
        if domain is not None and domain in accounts:
            record["AccountId"] = accounts[domain]
    if external_id_field:
        record[external_id_field] = str(contact.key)
    return record


def sent_fields(mappings: Iterable[FieldMapping], sobject: str, sent: Mapping[str, Any]) -> list[str]:
    """The Conversion fields whose values went out in `sent` (Salesforce field -> value)."""
    return [m.field for m in mappings if m.salesforce.get(sobject) in sent]


# -- rejections ------------------------------------------------------------------------------------

def rejection_code(error: str) -> str:
    """The Salesforce error code a rejection's text starts with ("UNABLE_TO_LOCK_ROW: ..."), else "other"."""
    match = _ERROR_CODE.match(error or "")
    return match.group(1) if match else "other"


def errors_text(outcome: Mapping[str, Any]) -> str:
    """One line of Salesforce's errors for a rejected record (sObject Collections' answer)."""
    errors = outcome.get("errors") or []
    return "; ".join(f"{e.get('statusCode') or e.get('errorCode')}: {e.get('message', '')}".strip() for e in errors) \
        or "rejected without a message"
