"""The daily API allocation, `Sforce-Limit-Info`, `/limits` and the per-kind counters."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceRefusedRequest


def test_every_api_request_counts_and_the_header_reports_it(org, sf, sandbox):
    assert org.api_usage() == (0, 15000)  # the OAuth login in the fixture was not counted
    sf.query("SELECT Id FROM Lead")
    assert sf.api_usage["api-usage"].used == 1 and sf.api_usage["api-usage"].total == 15000
    lead = sf.Lead.create({"LastName": "L", "Company": "C"})["id"]
    sf.Lead.get(lead)
    sf.Lead.update(lead, {"Title": "t"})
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 5}
    assert sf.api_usage["api-usage"].used == 5
    org.query("SELECT Id FROM Lead")  # in-process admin calls are free
    sandbox.admin_client().counters()  # and so are admin HTTP calls
    counters = org.counters()
    assert counters["total"] == 5 and counters["query"] == 1 and counters["sobject_create"] == 1
    assert counters["sobject_get"] == 1 and counters["sobject_update"] == 1 and counters["limits"] == 1
    org.reset_counters()
    assert org.counters()["total"] == 0 and org.api_usage()[0] == 5


def test_exhausted_allocation_is_refused(org, sf):
    org.set_api_limit(10)
    org.set_api_usage(9)
    sf.query("SELECT Id FROM Lead")
    assert sf.api_usage["api-usage"].used == 10
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT Id FROM Lead")
    assert refused.value.content == [{"message": "TotalRequests Limit exceeded.",
                                      "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert org.api_usage() == (10, 10)
    org.set_api_usage(0)
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_reset_restores_the_default_allocation(org):
    org.set_api_limit(3)
    org.set_api_usage(3)
    org.reset()
    assert org.api_usage() == (0, 15000)
