"""Configuration: environment variables (SPEC §4) and the optional YAML sync settings file.

Precedence: built-in defaults < the YAML file named by CONVERSION_SYNC_CONFIG < the
CONVERSION_SYNC_LOOKBACK_SECONDS / CONVERSION_SYNC_SETTLE_SECONDS variables. Every wrong or
missing value stops with a `ConfigError` whose one sentence names the setting.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from conversion_sync.errors import ConfigError
from conversion_sync.sync.fields import (
    COMPANY_FIELDS,
    CONTACT_FIELDS,
    PREFERENCES,
    FieldMapping,
    Preference,
)

PACKAGE_DIR = Path(__file__).resolve().parent

_SF_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CUSTOM_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_PULLED_OBJECTS = ("Lead", "Contact")

DEFAULT_CONTACT_FIELDS: dict[str, dict[str, Any]] = {
    "email": {"salesforce": "Email"},
    "first_name": {"salesforce": "FirstName"},
    "last_name": {"salesforce": "LastName"},
    "title": {"salesforce": "Title"},
    "phone": {"salesforce": "Phone"},
    # For Contacts, company_name follows the Account's company (R6); Leads carry it in Company.
    "company_name": {"salesforce": {"Lead": "Company"}},
    "lead_source": {"salesforce": "LeadSource"},
    "city": {"salesforce": {"Lead": "City", "Contact": "MailingCity"}},
    "country": {"salesforce": {"Lead": "Country", "Contact": "MailingCountry"}},
}
DEFAULT_COMPANY_FIELDS: dict[str, dict[str, Any]] = {
    "name": {"salesforce": "Name"},
    "website": {"salesforce": "Website"},
    "industry": {"salesforce": "Industry"},
}

_SETTING_KEYS = {
    "lookback_seconds", "settle_seconds", "fields", "company_fields", "custom_fields",
    "pull_leads", "pull_contacts", "pull_accounts", "write_to_salesforce", "new_record_object",
    "default_entry_sync", "api_budget_share", "bulk_query_threshold", "bulk_ingest_threshold",
    "apply_batch_size", "external_id_field", "link_new_contacts_by_domain",
    "push_max_attempts", "push_retry_base_seconds", "push_budget_pause_seconds",
}


@dataclass(frozen=True)
class SyncSettings:
    """How the sync behaves; defaults are what a new installation gets."""

    lookback_seconds: int = 300
    settle_seconds: int = 5
    contact_fields: tuple[FieldMapping, ...] = ()
    company_fields: tuple[FieldMapping, ...] = ()
    custom_fields: tuple[str, ...] = ()
    pull_leads: bool = True
    pull_contacts: bool = True
    pull_accounts: bool = True
    write_to_salesforce: bool = True
    new_record_object: str = "Lead"
    default_entry_sync: str = "immediate"
    api_budget_share: float = 0.8
    bulk_query_threshold: int = 20_000
    bulk_ingest_threshold: int = 2_000
    apply_batch_size: int = 5_000
    external_id_field: str | None = "Conversion_Id__c"
    link_new_contacts_by_domain: bool = False
    push_max_attempts: int = 8
    push_retry_base_seconds: int = 60
    push_budget_pause_seconds: int = 300   # H3: how long work the API budget stopped waits

    def contact_mapping(self, conversion_field: str) -> FieldMapping | None:
        return next((m for m in self.contact_fields if m.field == conversion_field), None)

    def salesforce_fields(self, sobject: str) -> list[str]:
        """The Salesforce fields the mapping reads from `sobject` (no duplicates, stable order)."""
        mappings = self.company_fields if sobject == "Account" else self.contact_fields
        seen: dict[str, None] = {}
        for mapping in mappings:
            name = mapping.salesforce.get(sobject)
            if name:
                seen.setdefault(name, None)
        return list(seen)


def load_sync_settings(environ: Mapping[str, str] | None = None) -> SyncSettings:
    """Defaults, then the YAML file of CONVERSION_SYNC_CONFIG, then the two seconds variables."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    path = env.get("CONVERSION_SYNC_CONFIG", "").strip()
    if path:
        raw = _read_yaml(Path(path))
    for key, variable in (("lookback_seconds", "CONVERSION_SYNC_LOOKBACK_SECONDS"),
                          ("settle_seconds", "CONVERSION_SYNC_SETTLE_SECONDS")):
        if env.get(variable, "").strip():
            raw[key] = _whole_seconds(env[variable], variable)
    return settings_from_mapping(raw, source=path or "settings")


def settings_from_mapping(raw: Mapping[str, Any], source: str = "settings") -> SyncSettings:
    """Validate a mapping of overrides (the YAML file's content) into `SyncSettings`."""
    unknown = sorted(str(key) for key in set(raw) - _SETTING_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown setting '{unknown[0]}' (known: {', '.join(sorted(_SETTING_KEYS))}).")
    base = SyncSettings()
    values: dict[str, Any] = {}
    for key in ("lookback_seconds", "settle_seconds", "bulk_query_threshold", "bulk_ingest_threshold",
                "apply_batch_size", "push_max_attempts", "push_retry_base_seconds", "push_budget_pause_seconds"):
        if key in raw:
            values[key] = _whole_seconds(raw[key], f"{source}: {key}", minimum=0 if "seconds" in key else 1)
    for key in ("pull_leads", "pull_contacts", "pull_accounts", "write_to_salesforce",
                "link_new_contacts_by_domain"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ConfigError(f"{source}: {key} must be true or false (got {raw[key]!r}).")
            values[key] = raw[key]
    if "new_record_object" in raw:
        if raw["new_record_object"] not in ("Lead", "Contact"):
            raise ConfigError(f"{source}: new_record_object must be Lead or Contact (got {raw['new_record_object']!r}).")
        values["new_record_object"] = raw["new_record_object"]
    if "default_entry_sync" in raw:
        if raw["default_entry_sync"] not in ("immediate", "skip"):
            raise ConfigError(f"{source}: default_entry_sync must be immediate or skip (got {raw['default_entry_sync']!r}).")
        values["default_entry_sync"] = raw["default_entry_sync"]
    if "api_budget_share" in raw:
        share = raw["api_budget_share"]
        if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1:
            raise ConfigError(f"{source}: api_budget_share must be a number above 0 and at most 1, like 0.8 (got {share!r}).")
        values["api_budget_share"] = float(share)
    if "external_id_field" in raw:
        ext = raw["external_id_field"]
        if ext is not None and (not isinstance(ext, str) or not _SF_FIELD.match(ext)):
            raise ConfigError(f"{source}: external_id_field must be a Salesforce field name or null (got {ext!r}).")
        values["external_id_field"] = ext
    custom = _custom_fields(raw.get("custom_fields", []), source)
    values["custom_fields"] = custom
    values["contact_fields"] = _mappings(
        DEFAULT_CONTACT_FIELDS, raw.get("fields"), known=set(CONTACT_FIELDS) | set(custom),
        objects=_PULLED_OBJECTS, what="fields", source=source)
    values["company_fields"] = _mappings(
        DEFAULT_COMPANY_FIELDS, raw.get("company_fields"), known=set(COMPANY_FIELDS),
        objects=("Account",), what="company_fields", source=source)
    return replace(base, **values)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"CONVERSION_SYNC_CONFIG names {path}, which is not a readable file.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} (named by CONVERSION_SYNC_CONFIG) is not UTF-8 text (byte {exc.start}); "
                          "save it as UTF-8.") from None
    except OSError as exc:
        raise ConfigError(f"CONVERSION_SYNC_CONFIG names {path}, which cannot be read "
                          f"({exc.strerror or exc}).") from None
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path} is not valid YAML{line}; fix the file named by CONVERSION_SYNC_CONFIG.") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{path} must hold a mapping of settings (like 'lookback_seconds: 300').")
    return content


# Whole-number settings stop here: a year of seconds, or a billion of anything else, is already
# far beyond sense, and larger values overflow date arithmetic later.
_MAX_SECONDS = 366 * 24 * 3600
_MAX_COUNT = 1_000_000_000


def _whole_seconds(value: Any, name: str, minimum: int = 0) -> int:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number (got {shown}).")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number (got {shown}).") from None
    if isinstance(value, float) and value != number:
        raise ConfigError(f"{name} must be a whole number (got {shown}).")
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum} (got {number}).")
    maximum = _MAX_SECONDS if "seconds" in name.lower() else _MAX_COUNT
    if number > maximum:
        raise ConfigError(f"{name} must be at most {maximum} (got {shown}).")
    return number


def _custom_fields(value: Any, source: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{source}: custom_fields must be a list of field names (got {value!r}).")
    names = []
    for name in value:
        if not isinstance(name, str) or not _CUSTOM_FIELD.match(name):
            raise ConfigError(f"{source}: custom field name {name!r} must be lower_case letters, digits and underscores.")
        if name in CONTACT_FIELDS:
            raise ConfigError(f"{source}: custom field '{name}' is already a standard contact field.")
        names.append(name)
    return tuple(names)


def _mappings(defaults: Mapping[str, Mapping[str, Any]], overrides: Any, *, known: set[str],
              objects: tuple[str, ...], what: str, source: str) -> tuple[FieldMapping, ...]:
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{source}: {what} must be a mapping of field: {{salesforce: ..., preference: ...}}.")
    merged: dict[str, Mapping[str, Any]] = dict(defaults)
    for name, spec in overrides.items():
        if name not in known:
            raise ConfigError(f"{source}: unknown field '{name}' under {what} (known: {', '.join(sorted(known))}).")
        if not isinstance(spec, dict):
            raise ConfigError(f"{source}: {what}.{name} must be a mapping like {{salesforce: Title, preference: two_way}}.")
        extra = set(spec) - {"salesforce", "preference"}
        if extra:
            raise ConfigError(f"{source}: unknown key '{sorted(map(str, extra))[0]}' under {what}.{name} (use salesforce and preference).")
        combined = dict(merged.get(name, {}))
        combined.update(spec)
        merged[name] = combined
    result = []
    for name, spec in merged.items():
        if "salesforce" not in spec:
            raise ConfigError(f"{source}: {what}.{name} needs a salesforce field name.")
        result.append(FieldMapping(
            field=name,
            salesforce=_salesforce_names(spec["salesforce"], objects, f"{source}: {what}.{name}"),
            preference=_preference(spec.get("preference", Preference.PREFER_SALESFORCE_UNLESS_EMPTY.value),
                                   f"{source}: {what}.{name}"),
        ))
    return tuple(result)


def _salesforce_names(value: Any, objects: tuple[str, ...], name: str) -> dict[str, str]:
    if isinstance(value, str):
        value = {sobject: value for sobject in objects}
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{name}.salesforce must be a field name or a mapping like {{Lead: Phone, Contact: MobilePhone}}.")
    names = {}
    for sobject, field_name in value.items():
        if sobject not in objects:
            raise ConfigError(f"{name}.salesforce: unknown object '{sobject}' (use {' or '.join(objects)}).")
        if not isinstance(field_name, str) or not _SF_FIELD.match(field_name):
            raise ConfigError(f"{name}.salesforce: {field_name!r} is not a Salesforce field name.")
        names[sobject] = field_name
    return names


def _preference(value: Any, name: str) -> Preference:
    if value not in PREFERENCES:
        raise ConfigError(f"{name}: unknown preference {value!r} (use one of {', '.join(PREFERENCES)}).")
    return Preference(value)


@dataclass(frozen=True)
class SalesforceSettings:
    """How to reach the org (SPEC §4). Secrets are kept out of repr()."""

    instance_url: str
    access_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None

    @property
    def auth_mode(self) -> str:
        if self.client_id and self.client_secret:
            return "password" if self.username and self.password else "client_credentials"
        if self.username and self.password:
            return "soap_password"
        return "access_token"


ENV_FILE_VARIABLE = "CONVERSION_SYNC_ENV_FILE"
DEMO_ENV_FILE = "data/sandbox/sandbox.env"   # what scripts/demo's sandbox org writes (named in messages only)


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (blank lines and `#` comments skipped, quotes around a value removed)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def _with_named_env_file(env: Mapping[str, str]) -> Mapping[str, str]:
    """`env` plus the SALESFORCE_* lines of the file CONVERSION_SYNC_ENV_FILE names, if it names one
    (a variable set in the environment wins over the file). Nothing is read from anywhere else."""
    named = env.get(ENV_FILE_VARIABLE, "").strip()
    if not named:
        return env
    path = Path(named).expanduser()
    try:
        values = read_env_file(path)
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"{ENV_FILE_VARIABLE} names {path}, which is not a readable env file (the demo's "
                          f"sandbox org writes {DEMO_ENV_FILE} when it starts).") from None
    from_file = {key: value for key, value in values.items() if key.startswith("SALESFORCE_")}
    return {**env, **{key: value for key, value in from_file.items() if not env.get(key, "").strip()}}


def salesforce_settings_from_env(environ: Mapping[str, str] | None = None) -> SalesforceSettings:
    """Read the SALESFORCE_* variables; one clear sentence for whatever is missing or wrong.

    They come from the environment, or from an env file only when CONVERSION_SYNC_ENV_FILE names
    one: there is no fallback to the sandbox org's files (scripts/demo exports them itself)."""
    env = _with_named_env_file(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    url = get("SALESFORCE_INSTANCE_URL")
    if not url:
        raise ConfigError(
            "Salesforce is not configured: set SALESFORCE_INSTANCE_URL to your org's URL and its login "
            "(SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET, SALESFORCE_USERNAME and SALESFORCE_PASSWORD, or "
            f"SALESFORCE_ACCESS_TOKEN), or name an env file of them in {ENV_FILE_VARIABLE} (for the demo's "
            f"sandbox org: {DEMO_ENV_FILE}).")
    if not re.match(r"^https://[A-Za-z0-9.\-]+(:\d{1,5})?/?$", url):
        raise ConfigError(
            f"SALESFORCE_INSTANCE_URL must be an https:// address like https://yourorg.my.salesforce.com (got {url!r}).")
    settings = SalesforceSettings(
        instance_url=url.rstrip("/"),
        access_token=get("SALESFORCE_ACCESS_TOKEN"),
        client_id=get("SALESFORCE_CLIENT_ID"),
        client_secret=get("SALESFORCE_CLIENT_SECRET"),
        username=get("SALESFORCE_USERNAME"),
        password=get("SALESFORCE_PASSWORD"),
        security_token=get("SALESFORCE_SECURITY_TOKEN"),
        ca_bundle=get("SALESFORCE_CA_BUNDLE"),
    )
    if bool(settings.client_id) != bool(settings.client_secret):
        have, missing = (("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET") if settings.client_id
                         else ("SALESFORCE_CLIENT_SECRET", "SALESFORCE_CLIENT_ID"))
        raise ConfigError(f"{have} is set but {missing} is not; set both for OAuth client credentials.")
    if bool(settings.username) != bool(settings.password):
        have, missing = (("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD") if settings.username
                         else ("SALESFORCE_PASSWORD", "SALESFORCE_USERNAME"))
        raise ConfigError(f"{have} is set but {missing} is not; set both (and SALESFORCE_SECURITY_TOKEN if your org needs one).")
    if not (settings.access_token or settings.client_id or settings.username):
        raise ConfigError(
            "Set SALESFORCE_ACCESS_TOKEN, or SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET, or SALESFORCE_USERNAME, "
            "SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN, so the sync can log in to Salesforce.")
    if settings.ca_bundle and not Path(settings.ca_bundle).is_file():
        raise ConfigError(f"SALESFORCE_CA_BUNDLE names {settings.ca_bundle}, which is not a readable file.")
    return settings


def project_root() -> Path | None:
    """The checkout this package runs from (an editable install), or None when installed elsewhere."""
    candidate = PACKAGE_DIR.parent
    return candidate if (candidate / "pyproject.toml").is_file() else None


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the embedded defaults live: CONVERSION_SYNC_DATA_DIR, else <checkout>/data."""
    env = os.environ if environ is None else environ
    explicit = env.get("CONVERSION_SYNC_DATA_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    root = project_root()
    return (root / "data") if root else Path.home() / ".local" / "share" / "conversion-sync"


def default_dagster_home() -> Path:
    """The Dagster instance folder when DAGSTER_HOME is unset: <checkout>/.dagster_home, the one
    scripts/demo exports, so `conversion-sync sync`, the UI and the daemon share one instance;
    without a checkout, dagster_home under the data folder."""
    root = project_root()
    return (root / ".dagster_home") if root else data_dir() / "dagster_home"


def ensure_dagster_home(home: Path) -> Path:
    """Create the instance folder with the checkout's dagster.yaml in it (as scripts/demo does),
    leaving a dagster.yaml already there alone."""
    home.mkdir(parents=True, exist_ok=True)
    settings = PACKAGE_DIR.parent / "dagster.yaml"
    if settings.is_file() and not (home / "dagster.yaml").exists():
        shutil.copyfile(settings, home / "dagster.yaml")
    return home


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """CONVERSION_DATABASE_URL, or a SQLite file under the data folder."""
    env = os.environ if environ is None else environ
    url = env.get("CONVERSION_DATABASE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{data_dir(env) / 'conversion.db'}"
