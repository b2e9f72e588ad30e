"""Sync settings: a typed pydantic model read from the optional YAML file and two variables.

Precedence: built-in defaults < the YAML file named by CONVERSION_SYNC_CONFIG < the
CONVERSION_SYNC_LOOKBACK_SECONDS / CONVERSION_SYNC_SETTLE_SECONDS variables. The model checks the
values (`extra="forbid"`, `Literal` choices, bounds); every wrong or missing value stops with a
`ConfigError` whose one sentence names the setting (`_sentence` translates pydantic's errors).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from conversion_sync.errors import ConfigError
from conversion_sync.sync.fields import COMPANY_FIELDS, CONTACT_FIELDS, PREFERENCES, FieldMapping, Preference

_SF_FIELD = r"^[A-Za-z][A-Za-z0-9_]*$"
_CUSTOM_FIELD = r"^[a-z][a-z0-9_]{0,62}$"
_PULLED_OBJECTS = ("Lead", "Contact")

# Whole-number settings stop here: a year of seconds, or a billion of anything else, is already
# far beyond sense, and larger values overflow date arithmetic later.
_MAX_SECONDS = 366 * 24 * 3600
_MAX_COUNT = 1_000_000_000

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


def _whole(value: Any) -> int:
    """A whole number from YAML or the environment ("300", 300, 300.0), never a bool or 1.5."""
    if isinstance(value, bool):
        raise PydanticCustomError("whole_number", "not a whole number")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise PydanticCustomError("whole_number", "not a whole number") from None
    if isinstance(value, float) and value != number:
        raise PydanticCustomError("whole_number", "not a whole number")
    return number


def _not_standard(name: str) -> str:
    if name in CONTACT_FIELDS:
        raise PydanticCustomError("standard_field", "already a standard contact field")
    return name


Seconds = Annotated[int, BeforeValidator(_whole), Field(ge=0, le=_MAX_SECONDS)]
Count = Annotated[int, BeforeValidator(_whole), Field(ge=1, le=_MAX_COUNT)]
Share = Annotated[float, Strict(), Field(gt=0, le=1)]
SalesforceFieldName = Annotated[str, Strict(), Field(pattern=_SF_FIELD)]
CustomFieldName = Annotated[str, Strict(), Field(pattern=_CUSTOM_FIELD), AfterValidator(_not_standard)]
Switch = Annotated[bool, Strict()]


class SyncSettings(BaseModel):
    """How the sync behaves; defaults are what a new installation gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lookback_seconds: Seconds = 300
    settle_seconds: Seconds = 5
    contact_fields: tuple[FieldMapping, ...] = ()
    company_fields: tuple[FieldMapping, ...] = ()
    custom_fields: tuple[CustomFieldName, ...] = ()
    pull_leads: Switch = True
    pull_contacts: Switch = True
    pull_accounts: Switch = True
    write_to_salesforce: Switch = True
    new_record_object: Literal["Lead", "Contact"] = "Lead"
    default_entry_sync: Literal["immediate", "skip"] = "immediate"
    api_budget_share: Share = 0.8
    bulk_query_threshold: Count = 20_000
    bulk_ingest_threshold: Count = 2_000
    apply_batch_size: Count = 5_000
    external_id_field: SalesforceFieldName | None = "Conversion_Id__c"
    link_new_contacts_by_domain: Switch = False
    push_max_attempts: Count = 8
    push_retry_base_seconds: Seconds = 60
    push_budget_pause_seconds: Seconds = 300   # H3: how long work the API budget stopped waits

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


# The YAML file's keys: the model's fields, with `fields` for the contact mapping.
SETTING_KEYS = frozenset(set(SyncSettings.model_fields) - {"contact_fields"} | {"fields"})
# What each setting must be, in the words of its sentence (whole numbers say it by bound).
_EXPECTED = {
    "api_budget_share": "a number above 0 and at most 1, like 0.8",
    "external_id_field": "a Salesforce field name or null",
    "custom_fields": "a list of field names",
}


def _expected(key: str) -> str:
    annotation = SyncSettings.model_fields[key].annotation
    choices = get_args(annotation) if getattr(annotation, "__origin__", None) is Literal else ()
    if choices:
        return " or ".join(choices)
    if annotation is bool:
        return "true or false"
    return _EXPECTED.get(key, "valid")


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _sentence(error: Mapping[str, Any], name: str, key: str | None) -> str:
    """One pydantic error as the project's one sentence; `name` is how the message names the value."""
    kind, value, ctx = error["type"], error["input"], error.get("ctx") or {}
    loc = error["loc"]
    if key == "custom_fields" and len(loc) > 1:
        if kind == "standard_field":
            return f"{name.rsplit(': ', 1)[0]}: custom field '{value}' is already a standard contact field."
        return f"{name.rsplit(': ', 1)[0]}: custom field name {value!r} must be lower_case letters, digits and underscores."
    if kind == "whole_number" or kind in ("int_type", "int_parsing"):
        return f"{name} must be a whole number (got {_shown(value)})."
    if kind == "greater_than_equal" and isinstance(ctx.get("ge"), int) and key != "api_budget_share":
        return f"{name} must be at least {ctx['ge']} (got {value})."
    if kind == "less_than_equal" and isinstance(ctx.get("le"), int) and key != "api_budget_share":
        return f"{name} must be at most {ctx['le']} (got {_shown(value)})."
    if kind == "extra_forbidden":
        return f"{name}: unknown setting '{loc[0]}' (known: {', '.join(sorted(SETTING_KEYS))})."
    return f"{name} must be {_expected(key) if key else 'valid'} (got {value!r})."


def _model(values: Mapping[str, Any], source: str) -> SyncSettings:
    try:
        return SyncSettings.model_validate(dict(values))
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else None
        name = source if error["type"] == "extra_forbidden" else f"{source}: {key}"
        raise ConfigError(_sentence(error, name, key)) from None


def _variable(value: str, variable: str) -> int:
    """A seconds variable of the environment, its sentence naming the variable."""
    try:
        return TypeAdapter(Seconds).validate_python(value)
    except ValidationError as exc:
        raise ConfigError(_sentence(exc.errors()[0], variable, None)) from None


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
            raw[key] = _variable(env[variable], variable)
    return settings_from_mapping(raw, source=path or "settings")


def settings_from_mapping(raw: Mapping[str, Any], source: str = "settings") -> SyncSettings:
    """Validate a mapping of overrides (the YAML file's content) into `SyncSettings`."""
    unknown = sorted(str(key) for key in set(raw) - SETTING_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown setting '{unknown[0]}' (known: {', '.join(sorted(SETTING_KEYS))}).")
    values = {key: value for key, value in raw.items() if key not in ("fields", "company_fields")}
    custom = _model({"custom_fields": raw.get("custom_fields", [])}, source).custom_fields
    values["contact_fields"] = _mappings(
        DEFAULT_CONTACT_FIELDS, raw.get("fields"), known=set(CONTACT_FIELDS) | set(custom),
        objects=_PULLED_OBJECTS, what="fields", source=source)
    values["company_fields"] = _mappings(
        DEFAULT_COMPANY_FIELDS, raw.get("company_fields"), known=set(COMPANY_FIELDS),
        objects=("Account",), what="company_fields", source=source)
    return _model(values, source)


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


class _FieldSpec(BaseModel):
    """One entry under `fields` or `company_fields`: which Salesforce field, which preference."""

    model_config = ConfigDict(extra="forbid")

    salesforce: Any = None
    preference: Literal[PREFERENCES] | None = None   # type: ignore[valid-type]


def _spec(spec: Any, what: str, name: str, source: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ConfigError(f"{source}: {what}.{name} must be a mapping like {{salesforce: Title, preference: two_way}}.")
    try:
        checked = _FieldSpec.model_validate({str(key): value for key, value in spec.items()})
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "extra_forbidden":
            raise ConfigError(f"{source}: unknown key '{error['loc'][0]}' under {what}.{name} "
                              "(use salesforce and preference).") from None
        raise ConfigError(f"{source}: {what}.{name}: unknown preference {error['input']!r} "
                          f"(use one of {', '.join(PREFERENCES)}).") from None
    return checked.model_dump(exclude_unset=True)


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
        merged[name] = {**merged.get(name, {}), **_spec(spec, what, name, source)}
    result = []
    for name, spec in merged.items():
        if spec.get("salesforce") is None:
            raise ConfigError(f"{source}: {what}.{name} needs a salesforce field name.")
        result.append(FieldMapping(
            field=name,
            salesforce=_salesforce_names(spec["salesforce"], objects, f"{source}: {what}.{name}"),
            preference=Preference(spec.get("preference") or Preference.PREFER_SALESFORCE_UNLESS_EMPTY.value),
        ))
    return tuple(result)


def _salesforce_names(value: Any, objects: tuple[str, ...], name: str) -> dict[str, str]:
    if isinstance(value, str):
        value = dict.fromkeys(objects, value)
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{name}.salesforce must be a field name or a mapping like {{Lead: Phone, Contact: MobilePhone}}.")
    names = {}
    for sobject, field_name in value.items():
        if sobject not in objects:
            raise ConfigError(f"{name}.salesforce: unknown object '{sobject}' (use {' or '.join(objects)}).")
        if not isinstance(field_name, str) or not re.match(_SF_FIELD, field_name):
            raise ConfigError(f"{name}.salesforce: {field_name!r} is not a Salesforce field name.")
        names[sobject] = field_name
    return names
