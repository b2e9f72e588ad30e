"""sObject schemas: the Lead, Contact and Account fields the sandbox org knows, plus custom fields.

A record is stored as a Python list ("row") whose positions follow `ObjectSchema.fields`; field
names are matched case-insensitively and reported with their canonical API name, as Salesforce does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .ids import KEY_PREFIXES

logger = logging.getLogger(__name__)

STRING_TYPES = frozenset({"string", "email", "phone", "url", "picklist", "textarea", "combobox"})
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
CUSTOM_TYPES = STRING_TYPES | NUMBER_TYPES | {"boolean", "date", "datetime"}

SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
    "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double",
    "date": "xsd:date", "datetime": "xsd:dateTime",
}
DEFAULT_LENGTHS = {"string": 255, "email": 80, "phone": 40, "url": 255, "picklist": 255,
                   "textarea": 32768, "combobox": 255}


@dataclass(slots=True)
class FieldDef:
    """One field of an sObject, with the describe attributes the sandbox honours."""

    name: str
    type: str
    pos: int = -1
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    calculated: bool = False
    custom: bool = False
    external_id: bool = False
    unique: bool = False
    required: bool = False
    reference_to: tuple[str, ...] = ()
    default: Any = None

    @property
    def is_string(self) -> bool:
        return self.type in STRING_TYPES

    @property
    def writable(self) -> bool:
        return self.createable or self.updateable

    def describe(self) -> dict[str, Any]:
        """The field entry of `GET /sobjects/{Obj}/describe`."""
        is_text = self.type in STRING_TYPES
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length if is_text else (18 if self.type in ID_TYPES else 0),
            "byteLength": self.length * 3 if is_text else (18 if self.type in ID_TYPES else 0),
            "digits": 9 if self.type == "int" else 0,
            "precision": 18 if self.type in ("double", "currency", "percent") else 0,
            "scale": 2 if self.type in ("double", "currency", "percent") else 0,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "calculated": self.calculated,
            "custom": self.custom,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.type == "id" or self.external_id or self.unique or self.type == "email",
            "caseSensitive": False,
            "defaultedOnCreate": self.default is not None or self.name in SYSTEM_DEFAULTED,
            "filterable": True,
            "sortable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "double", "datetime"),
            "referenceTo": list(self.reference_to),
            "relationshipName": (self.name[:-2] if self.type == "reference" and self.name.endswith("Id")
                                 and not self.custom else None),
            "picklistValues": [],
            "autoNumber": False,
            "deprecatedAndHidden": False,
        }


SYSTEM_DEFAULTED = frozenset({"Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp",
                              "OwnerId", "CreatedById", "LastModifiedById", "IsConverted", "Name"})


@dataclass
class ObjectSchema:
    """The fields of one sObject type, in describe order."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: list[FieldDef] = field(default_factory=list)
    by_lower: dict[str, FieldDef] = field(default_factory=dict)
    required_on_create: tuple[FieldDef, ...] = ()
    indexed: tuple[FieldDef, ...] = ()

    def add(self, fdef: FieldDef) -> FieldDef:
        """Append a field and refresh the derived lookups."""
        if fdef.name.lower() in self.by_lower:
            raise ValueError(f"{self.name} already has a field {fdef.name}")
        fdef.pos = len(self.fields)
        self.fields.append(fdef)
        self.by_lower[fdef.name.lower()] = fdef
        self.required_on_create = tuple(f for f in self.fields if f.required)
        self.indexed = tuple(f for f in self.fields
                             if f.type == "email" or f.external_id or f.unique
                             or (f.type == "reference" and f.reference_to != ("User",)))
        return fdef

    def get(self, name: str) -> FieldDef | None:
        """The field called `name` (any case), or None."""
        return self.by_lower.get(name.lower())

    def pos(self, name: str) -> int:
        """Row position of a field that must exist."""
        return self.by_lower[name.lower()].pos

    def without(self, hidden: set[str]) -> ObjectSchema:
        """The schema as a user who cannot see the `hidden` fields (canonical names) sees it:
        field-level security. Same field definitions and row positions, narrower lookups."""
        if not hidden:
            return self
        return ObjectSchema(self.name, self.label, self.label_plural, self.key_prefix,
                            fields=[f for f in self.fields if f.name not in hidden],
                            by_lower={k: f for k, f in self.by_lower.items() if f.name not in hidden},
                            required_on_create=self.required_on_create,
                            indexed=tuple(f for f in self.indexed if f.name not in hidden))

    def describe(self, version: str) -> dict[str, Any]:
        """`GET /sobjects/{Obj}/describe`."""
        base = self.summary(version)
        base.update({
            "fields": [f.describe() for f in self.fields],
            "childRelationships": [],
            "recordTypeInfos": [],
            "supportedScopes": [{"label": "All " + self.label_plural.lower(), "name": "everything"}],
        })
        return base

    def summary(self, version: str) -> dict[str, Any]:
        """The object's entry in `GET /sobjects` (describeGlobal)."""
        url = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "name": self.name, "label": self.label, "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix, "custom": False, "customSetting": False,
            "activateable": False, "createable": True, "updateable": True, "deletable": True,
            "undeletable": True, "mergeable": True, "queryable": True, "retrieveable": True,
            "searchable": True, "replicateable": True, "triggerable": True, "layoutable": True,
            "feedEnabled": False, "deprecatedAndHidden": False,
            "urls": {"sobject": url, "describe": url + "/describe",
                     "rowTemplate": url + "/{ID}"},
        }


def _f(name: str, ftype: str, length: int = 0, **kw: Any) -> FieldDef:
    if ftype in STRING_TYPES and not length:
        length = DEFAULT_LENGTHS[ftype]
    return FieldDef(name=name, type=ftype, length=length, label=kw.pop("label", _label(name)), **kw)


def _label(name: str) -> str:
    out = []
    for i, ch in enumerate(name.replace("__c", "")):
        if i and ch.isupper() and not name[i - 1].isupper():
            out.append(" ")
        out.append(ch)
    return " ".join("".join(out).replace("_", " ").split())


def _ro(name: str, ftype: str, **kw: Any) -> FieldDef:
    """A read-only (system) field."""
    kw.setdefault("nillable", ftype not in ("boolean",) and name not in ("CreatedDate", "LastModifiedDate",
                                                                         "SystemModstamp", "Id"))
    return _f(name, ftype, createable=False, updateable=False, **kw)


def _head() -> list[FieldDef]:
    return [_ro("Id", "id", label="Record ID"), _ro("IsDeleted", "boolean", default=False),
            _ro("MasterRecordId", "reference")]


def _tail() -> list[FieldDef]:
    return [_f("OwnerId", "reference", reference_to=("User",), nillable=False),
            _ro("CreatedDate", "datetime"), _ro("CreatedById", "reference", reference_to=("User",)),
            _ro("LastModifiedDate", "datetime"),
            _ro("LastModifiedById", "reference", reference_to=("User",)),
            _ro("SystemModstamp", "datetime")]


def lead_schema() -> ObjectSchema:
    """Standard Lead fields."""
    s = ObjectSchema("Lead", "Lead", "Leads", KEY_PREFIXES["Lead"])
    for f in [*_head(),
        _f("LastName", "string", 80, nillable=False, required=True),
        _f("FirstName", "string", 40),
        _ro("Name", "string", length=121, calculated=False, label="Full Name"),
        _f("Title", "string", 128),
        _f("Company", "string", 255, nillable=False, required=True),
        _f("City", "string", 40),
        _f("Country", "string", 80),
        _f("Phone", "phone", 40),
        _f("MobilePhone", "phone", 40),
        _f("Email", "email", 80),
        _f("Website", "url", 255),
        _f("LeadSource", "picklist", 255),
        _f("Status", "picklist", 255, nillable=False, default="Open - Not Contacted"),
        _f("Industry", "picklist", 255),
        _f("NumberOfEmployees", "int"),
        _ro("IsConverted", "boolean", default=False, label="Converted"),
        _ro("ConvertedDate", "date"),
        _ro("ConvertedAccountId", "reference", reference_to=("Account",)),
        _ro("ConvertedContactId", "reference", reference_to=("Contact",)),
        _ro("ConvertedOpportunityId", "reference", reference_to=("Opportunity",)),
    *_tail()]:
        s.add(f)
    return s


def contact_schema() -> ObjectSchema:
    """Standard Contact fields."""
    s = ObjectSchema("Contact", "Contact", "Contacts", KEY_PREFIXES["Contact"])
    for f in [*_head(),
        _f("AccountId", "reference", reference_to=("Account",)),
        _f("LastName", "string", 80, nillable=False, required=True),
        _f("FirstName", "string", 40),
        _ro("Name", "string", length=121, label="Full Name"),
        _f("MailingCity", "string", 40),
        _f("MailingCountry", "string", 80),
        _f("Phone", "phone", 40),
        _f("MobilePhone", "phone", 40),
        _f("Email", "email", 80),
        _f("Title", "string", 128),
        _f("Department", "string", 80),
        _f("LeadSource", "picklist", 255),
    *_tail()]:
        s.add(f)
    return s


def account_schema() -> ObjectSchema:
    """Standard Account fields."""
    s = ObjectSchema("Account", "Account", "Accounts", KEY_PREFIXES["Account"])
    for f in [*_head(),
        _f("Name", "string", 255, nillable=False, required=True, label="Account Name"),
        _f("BillingCity", "string", 40),
        _f("BillingCountry", "string", 80),
        _f("Phone", "phone", 40),
        _f("Website", "url", 255),
        _f("Industry", "picklist", 255),
        _f("NumberOfEmployees", "int"),
    *_tail()]:
        s.add(f)
    return s


def standard_schemas() -> dict[str, ObjectSchema]:
    """Fresh schemas of the three standard objects, keyed by canonical name."""
    return {"Account": account_schema(), "Contact": contact_schema(), "Lead": lead_schema()}


def custom_field(name: str, ftype: str = "string", external_id: bool = False, unique: bool = False,
                 length: int | None = None, label: str | None = None) -> FieldDef:
    """A custom (`__c`) field definition; raises ValueError for a bad name or type."""
    if not name.endswith("__c") or not name[:-3].replace("_", "a").isalnum() or not name[0].isalpha():
        raise ValueError(f"Custom field names end with '__c' and use letters, digits and underscores: {name!r}")
    ftype = {"text": "string", "number": "double", "checkbox": "boolean"}.get(ftype, ftype)
    if ftype not in CUSTOM_TYPES:
        raise ValueError(f"Unsupported custom field type {ftype!r}; use one of {sorted(CUSTOM_TYPES)}")
    if (external_id or unique) and ftype not in ("string", "email", "int", "double"):
        raise ValueError("Only text, email and number fields can be external ids or unique")
    return _f(name, ftype, length or 0, label=label or _label(name), custom=True,
              external_id=external_id, unique=unique,
              default=False if ftype == "boolean" else None, nillable=ftype != "boolean")
