"""Push rules, pure: which contacts have push work due (H2), and what the mirror and the field
clocks say after one of our writes (R5: Salesforce's timestamps are the only clock for
Salesforce data).

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
from dataclasses import dataclass
from typing import Any, Mapping

from conversion_sync.sync.fields import normalize_value
from conversion_sync.sync.records import PulledRecord

QUEUED, FAILED, PUSHED, SKIPPED, GAVE_UP = "queued", "failed", "pushed", "skipped", "needs_attention"
WAITING = (QUEUED, FAILED)          # the states that are push work

# A field we wrote is stamped this much before Salesforce's LastModifiedDate of the write.
OUR_WRITE_MARGIN = dt.timedelta(microseconds=1)


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
