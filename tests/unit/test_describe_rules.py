"""R5: what a describe lets the sync select, create and update (a field absent from describe is
hidden from the integration user: never selected, created or updated)."""

import pytest

from conversion_sync.config import settings_from_mapping
from conversion_sync.service.describe import can_create, can_update, not_visible
from conversion_sync.service.extract import hidden_fields, select_fields
from conversion_sync.sync.records import SYSTEM_FIELDS

DESCRIBED = {"MailingCity": {"updateable": True, "createable": True},
             "Name": {"updateable": False, "createable": False},
             "Title": {"updateable": False, "createable": True}}


@pytest.mark.parametrize("name, create, update", [
    ("MailingCity", True, True), ("mailingcity", True, True),    # names compare case-insensitively
    ("Name", False, False), ("Title", True, False),
    ("Hidden__c", False, False),                                 # absent from describe: hidden
])
def test_writes_need_the_field_visible_and_writable(name, create, update):
    assert can_create(DESCRIBED, name) is create and can_update(DESCRIBED, name) is update


def test_select_leaves_out_the_mapped_fields_the_describe_does_not_show():
    settings = settings_from_mapping({})
    described = {name: {"updateable": True, "createable": True}
                 for name in [*SYSTEM_FIELDS["Contact"], *settings.salesforce_fields("Contact")] if name != "MailingCity"}
    fields = select_fields("Contact", settings, described)
    assert "MailingCity" not in fields and "MailingCountry" in fields
    assert fields[:len(SYSTEM_FIELDS["Contact"])] == list(SYSTEM_FIELDS["Contact"])
    assert hidden_fields("Contact", settings, described) == ["MailingCity"]
    assert "MailingCity" in select_fields("Contact", settings)          # no describe given: everything
    assert not_visible(described, ["Email", "MailingCity"]) == ["MailingCity"]
