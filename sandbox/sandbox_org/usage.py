"""API usage accounting: the daily request allocation, per-kind call counters and `/limits`."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

logger = logging.getLogger(__name__)

COUNTER_KINDS = (
    "query", "query_all", "query_more", "sobject_create", "sobject_update", "sobject_upsert",
    "sobject_get", "sobject_delete", "collections_create", "collections_update", "collections_upsert",
    "collections_get", "collections_delete", "bulk_query", "bulk_ingest", "limits", "describe",
    "get_updated", "get_deleted", "other",
)

DEFAULT_DAILY_LIMIT = 15000


class ApiUsage:
    """Daily API requests used/allowed plus counters by kind (callers hold the org lock)."""

    def __init__(self, daily_limit: int = DEFAULT_DAILY_LIMIT) -> None:
        self.max = daily_limit
        self.used = 0
        self.counts: Counter[str] = Counter()
        self.bulk_query_jobs = 0
        self.bulk_batches = 0

    def exhausted(self) -> bool:
        """True once the allocation is used up: further calls get REQUEST_LIMIT_EXCEEDED."""
        return self.used >= self.max

    def charge(self, kind: str) -> None:
        """Count one API request of `kind`."""
        self.used += 1
        self.counts[kind] += 1

    def header(self) -> str:
        """The `Sforce-Limit-Info` header value."""
        return f"api-usage={self.used}/{self.max}"

    def counters(self) -> dict[str, int]:
        """Calls by kind (every kind present) and `total`."""
        out = {kind: self.counts.get(kind, 0) for kind in COUNTER_KINDS}
        for kind, value in self.counts.items():
            out.setdefault(kind, value)
        out["total"] = sum(self.counts.values())
        return out

    def reset_counters(self) -> None:
        self.counts.clear()

    def limits(self) -> dict[str, Any]:
        """The body of `GET /limits/` with live usage where the sandbox tracks it."""

        def lim(maximum: int, used: int = 0) -> dict[str, int]:
            return {"Max": maximum, "Remaining": max(0, maximum - used)}

        return {
            "ActiveScratchOrgs": lim(3), "AnalyticsExternalDataSizeMB": lim(40960),
            "ConcurrentAsyncGetReportInstances": lim(200), "ConcurrentSyncReportRuns": lim(20),
            "DailyAnalyticsDataflowJobExecutions": lim(50), "DailyApiRequests": lim(self.max, self.used),
            "DailyAsyncApexExecutions": lim(250000), "DailyBulkApiBatches": lim(15000, self.bulk_batches),
            "DailyBulkV2QueryFileStorageMB": lim(976562), "DailyBulkV2QueryJobs": lim(10000, self.bulk_query_jobs),
            "DailyDurableGenericStreamingApiEvents": lim(10000), "DailyDurableStreamingApiEvents": lim(10000),
            "DailyGenericStreamingApiEvents": lim(10000), "DailyStandardVolumePlatformEvents": lim(10000),
            "DailyStreamingApiEvents": lim(10000), "DailyWorkflowEmails": lim(390),
            "DataStorageMB": lim(5), "FileStorageMB": lim(20), "HourlyAsyncReportRuns": lim(1200),
            "HourlyDashboardRefreshes": lim(200), "HourlyDashboardResults": lim(5000),
            "HourlyDashboardStatuses": lim(999999999), "HourlyODataCallout": lim(10000),
            "HourlySyncReportRuns": lim(500), "HourlyTimeBasedWorkflow": lim(50),
            "MassEmail": lim(10), "SingleEmail": lim(15),
        }
