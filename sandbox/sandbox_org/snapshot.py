"""Save and load an org to a gzipped JSON file (`--persist`): credentials, admin token, custom
fields, records (storage form) and the id counters. Faults, rules, cursors and jobs are not kept."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

from .org import SandboxOrg
from .schema import custom_field

logger = logging.getLogger(__name__)

FORMAT = 1


def save(org: SandboxOrg, path: Path) -> None:
    """Write the org's state to `path` (atomically)."""
    with org.lock:
        data: dict[str, Any] = {
            "format": FORMAT, "credentials": org.auth.credentials(), "admin_token": org.admin_token,
            "id_counters": dict(org.idgen.counters), "api_usage": [org.usage.used, org.usage.max],
            "objects": {},
        }
        for name, table in org.tables.items():
            fields = table.schema.fields
            data["objects"][name] = {
                "fields": [f.name for f in fields],
                "custom": [{"name": f.name, "type": f.type, "external_id": f.external_id, "unique": f.unique,
                            "length": f.length} for f in fields if f.custom],
                "rows": [table.rows[rid] for rid in table.ids],
            }
    tmp = path.with_suffix(path.suffix + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(tmp, "wt", encoding="utf-8") as handle:
        json.dump(data, handle, separators=(",", ":"))
    tmp.replace(path)
    logger.info("snapshot saved to %s", path)


def load(path: Path, daily_api_limit: int | None = None) -> SandboxOrg:
    """A new org rebuilt from a snapshot file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a sandbox snapshot this version can read")
    used, maximum = data.get("api_usage") or [0, daily_api_limit or 15000]
    org = SandboxOrg(daily_api_limit=daily_api_limit or maximum, credentials=data["credentials"],
                     admin_token=data["admin_token"])
    with org.lock:
        for name, obj in data["objects"].items():
            table = org.tables[name]
            for spec in obj["custom"]:
                if table.schema.get(spec["name"]) is None:
                    fdef = custom_field(spec["name"], spec["type"], external_id=spec["external_id"],
                                        unique=spec["unique"], length=spec["length"])
                    table.schema.add(fdef)
                    table.add_column(fdef)
            positions = [table.schema.pos(field) for field in obj["fields"]]
            width = len(table.schema.fields)
            rows = []
            for saved in obj["rows"]:
                row = [f.default for f in table.schema.fields] if len(positions) != width else [None] * width
                for pos, value in zip(positions, saved, strict=False):
                    row[pos] = value
                rows.append(row)
            table.bulk_insert(rows)
        org.idgen.counters.update(data.get("id_counters") or {})
        org.usage.used = used
    logger.info("snapshot loaded from %s", path)
    return org

