"""SOQL features one by one (a table of queries and the records they must return), the errors
Salesforce answers for bad SOQL, and format_soql round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
LEADS = {
    "ann": {"FirstName": "Ann", "LastName": "O'Brien", "Email": "Ann.OBrien@Example.com", "Company": "Acme",
            "Title": "CEO", "City": "Paris", "NumberOfEmployees": 10},
    "bob": {"FirstName": "Bob", "LastName": "Smith", "Email": "bob@example.com", "Company": "Globex",
            "City": "paris", "NumberOfEmployees": 200},
    "cara": {"FirstName": "Cara", "LastName": "Jones", "Company": "Acme Ltd", "Title": "CTO"},
    "dan": {"FirstName": "Dan", "LastName": "Under_Score", "Email": "d_u@x.io", "Company": "50% Off Inc",
            "Title": "VP\nSales", "City": "Berlin"},
    "eve": {"FirstName": "Eve", "LastName": "Stone", "Company": "Initech", "Title": "Analyst", "City": "Austin",
            "IsConverted": True, "ConvertedDate": date(2024, 4, 30), "Status": "Closed - Converted"},
}
ORDER = list(LEADS)


@pytest.fixture
def leads(org):
    records = [{**fields, "SystemModstamp": T0 + timedelta(hours=n + 1), "CreatedDate": T0}
               for n, fields in enumerate(LEADS.values())]
    return dict(zip(ORDER, org.seed("Lead", records), strict=False))


CASES = [
    ("WHERE Company = 'acme'", {"ann"}),
    ("WHERE Company != 'Acme'", {"bob", "cara", "dan", "eve"}),
    ("WHERE Company <> 'ACME'", {"bob", "cara", "dan", "eve"}),
    ("WHERE Title = null", {"bob"}),
    ("WHERE Title != null", {"ann", "cara", "dan", "eve"}),
    ("WHERE Title != 'CEO'", {"bob", "cara", "dan", "eve"}),
    ("WHERE NumberOfEmployees > 50", {"bob"}),
    ("WHERE NumberOfEmployees >= 10", {"ann", "bob"}),
    ("WHERE NumberOfEmployees < 200", {"ann"}),
    ("WHERE NumberOfEmployees <= 200", {"ann", "bob"}),
    ("WHERE City IN ('PARIS', 'Lyon')", {"ann", "bob"}),
    ("WHERE City NOT IN ('Paris')", {"cara", "dan", "eve"}),
    ("WHERE Email LIKE '%example.com'", {"ann", "bob"}),
    ("WHERE Company LIKE 'acme%'", {"ann", "cara"}),
    ("WHERE Company LIKE '50\\% %'", {"dan"}),
    ("WHERE LastName LIKE '%r\\_s%'", {"dan"}),
    ("WHERE LastName LIKE 'Sm_th'", {"bob"}),
    ("WHERE IsConverted = true", {"eve"}),
    ("WHERE IsConverted = false", {"ann", "bob", "cara", "dan"}),
    ("WHERE SystemModstamp > 2024-05-01T13:00:00Z", {"bob", "cara", "dan", "eve"}),
    ("WHERE SystemModstamp >= 2024-05-01T13:00:00+00:00", {"ann", "bob", "cara", "dan", "eve"}),
    ("WHERE SystemModstamp > 2024-05-01T09:00:00-04:00", {"bob", "cara", "dan", "eve"}),
    ("WHERE SystemModstamp > 2024-05-01T13:00:00.500+00:00", {"bob", "cara", "dan", "eve"}),
    ("WHERE SystemModstamp < 2024-05-01T14:00:00.001Z", {"ann", "bob"}),
    ("WHERE SystemModstamp = 2024-05-01T14:00:00.000Z", {"bob"}),
    ("WHERE SystemModstamp > 2024-05-01T13:00:00Z AND SystemModstamp <= 2024-05-01T15:00:00Z", {"bob", "cara"}),
    ("WHERE SystemModstamp > 2024-05-01T13:00:00Z AND Company LIKE 'A%'", {"cara"}),
    ("WHERE ConvertedDate = 2024-04-30", {"eve"}),
    ("WHERE ConvertedDate < 2024-05-01", {"eve"}),
    ("WHERE (Company = 'Acme' OR Company = 'Globex') AND City = 'Paris'", {"ann", "bob"}),
    ("WHERE Company = 'Acme' OR (City = 'Berlin' AND Title != null)", {"ann", "dan"}),
    ("WHERE NOT Company = 'Acme'", {"bob", "cara", "dan", "eve"}),
    ("WHERE NOT (City = 'Paris' OR City = null)", {"dan", "eve"}),
    ("WHERE Title = 'VP\\nSales'", {"dan"}),
    ("WHERE LastName = 'O\\'Brien'", {"ann"}),
    ("WHERE Email = 'ANN.obrien@example.COM'", {"ann"}),
    ("WHERE Email IN ('bob@example.com', 'nobody@example.com')", {"bob"}),
    ("WHERE CreatedDate = 2024-05-01T12:00:00Z AND Email != null", {"ann", "bob", "dan"}),
]


@pytest.mark.parametrize("where, expected", CASES, ids=[c[0] for c in CASES])
def test_where(sf, leads, where, expected):
    got = {r["Id"] for r in sf.query(f"SELECT Id FROM Lead {where}")["records"]}
    assert got == {leads[name] for name in expected}


ORDERED = [
    ("ORDER BY Title", ["bob", "eve", "ann", "cara", "dan"]),
    ("ORDER BY Title DESC", ["dan", "cara", "ann", "eve", "bob"]),
    ("ORDER BY Title ASC NULLS LAST", ["eve", "ann", "cara", "dan", "bob"]),
    ("ORDER BY Title DESC NULLS FIRST", ["bob", "dan", "cara", "ann", "eve"]),
    ("ORDER BY City, NumberOfEmployees DESC", ["cara", "eve", "dan", "bob", "ann"]),
    ("ORDER BY LastName LIMIT 2", ["cara", "ann"]),
    ("ORDER BY SystemModstamp DESC, Id DESC LIMIT 2", ["eve", "dan"]),
    ("ORDER BY SystemModstamp LIMIT 2 OFFSET 1", ["bob", "cara"]),
    ("WHERE SystemModstamp > 2024-05-01T13:00:00Z ORDER BY SystemModstamp, Id", ["bob", "cara", "dan", "eve"]),
]


@pytest.mark.parametrize("tail, expected", ORDERED, ids=[c[0] for c in ORDERED])
def test_order_limit_offset(sf, leads, tail, expected):
    got = [r["Id"] for r in sf.query(f"SELECT Id FROM Lead {tail}")["records"]]
    assert got == [leads[name] for name in expected]


def test_case_insensitive_keywords_fields_and_object(sf, leads):
    got = sf.query("select id, EMAIL, company from lead where COMPANY = 'globex'")["records"]
    assert got == [{"attributes": got[0]["attributes"], "Id": leads["bob"], "Email": "bob@example.com",
                    "Company": "Globex"}]
    assert got[0]["attributes"]["type"] == "Lead"


def test_ids_in_15_and_18_characters(sf, leads):
    short = leads["bob"][:15]
    got = sf.query(f"SELECT Id FROM Lead WHERE Id = '{short}'")["records"]
    assert [r["Id"] for r in got] == [leads["bob"]]
    both = sf.query(f"SELECT Id FROM Lead WHERE Id IN ('{leads['ann']}', '{leads['cara'][:15]}')")["records"]
    assert {r["Id"] for r in both} == {leads["ann"], leads["cara"]}


def test_relative_date_literals(org, sf):
    fresh = org.create("Lead", {"LastName": "Today", "Company": "Now"})
    org.seed("Lead", [{"LastName": "Old", "Company": "Then", "CreatedDate": T0}])
    assert [r["Id"] for r in sf.query("SELECT Id FROM Lead WHERE CreatedDate = TODAY")["records"]] == [fresh]
    assert len(sf.query("SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS:3")["records"]) == 1
    assert len(sf.query("SELECT Id FROM Lead WHERE CreatedDate < YESTERDAY")["records"]) == 1


ERRORS = [
    ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY", "unexpected token"),
    ("SELECT Id FROM Lead WHERE Company = 'a' AND City = 'b' OR Title = 'c'", "MALFORMED_QUERY", "unexpected token: 'OR'"),
    ("SELECT Id FROM Lead WHERE SystemModstamp > 2024-05-01 12:00:00+00:00", "MALFORMED_QUERY", "ERROR at Row:1"),
    ("SELECT Id FROM Lead WHERE SystemModstamp > 2024-05-01T12:00:00", "MALFORMED_QUERY", "unexpected token"),
    ("SELECT Id, Id FROM Lead", "MALFORMED_QUERY", "duplicate field selected: Id"),
    ("SELECT Id FROM Lead GROUP BY Company", "MALFORMED_QUERY", "GROUP"),
    ("SELECT Id FROM Lead WHERE Email = 'unterminated", "MALFORMED_QUERY", "unterminated"),
    ("SELECT Id FROM Lead WHERE Email = 'bad \\q escape'", "MALFORMED_QUERY", "Illegal character sequence"),
    ("SELECT Id FROM Lead WHERE Id IN (SELECT LeadId FROM CampaignMember)", "MALFORMED_QUERY", "SELECT"),
    ("SELECT Id, SF_date__c FROM Lead", "INVALID_FIELD",
     "No such column 'SF_date__c' on entity 'Lead'. If you are attempting to use a custom field, be sure to append "
     "the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."),
    ("SELECT Id FROM Lead WHERE Foo = 1", "INVALID_FIELD", "No such column 'Foo' on entity 'Lead'"),
    ("SELECT Id FROM Lead ORDER BY Bar", "INVALID_FIELD", "No such column 'Bar'"),
    ("SELECT Account.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'Account'"),
    ("SELECT Id FROM Leed", "INVALID_TYPE", "sObject type 'Leed' is not supported"),
    ("SELECT Id FROM Lead WHERE SystemModstamp > 2024-05-01", "INVALID_FIELD", "must be of type dateTime"),
    ("SELECT Id FROM Lead WHERE Company = 5", "INVALID_FIELD", "must be of type string"),
    ("SELECT Id FROM Lead WHERE IsConverted = 'true'", "INVALID_FIELD", "must be of type boolean"),
    ("SELECT Id FROM Lead WHERE Id = 'nope'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: nope"),
    ("SELECT Id FROM Lead WHERE IsConverted > true", "INVALID_QUERY_FILTER_OPERATOR", "boolean"),
]


@pytest.mark.parametrize("soql, code, text", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(sf, soql, code, text):
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.query(soql)
    assert error.value.status == 400
    assert error.value.content[0]["errorCode"] == code
    assert text in error.value.content[0]["message"]


def test_error_message_points_at_the_column(sf):
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.query("SELECT Id, Nope FROM Lead")
    assert error.value.content[0]["message"].startswith("\nSELECT Id, Nope FROM Lead\n           ^\n"
                                                        "ERROR at Row:1:Column:12\n")


def test_format_soql_round_trips(org, sf, leads):
    tricky = org.create("Contact", {"LastName": "O'Neil", "Email": "o'neil@example.com",
                                    "Title": 'Says "hi" \\ and\ttabs'})
    q = format_soql("SELECT Id FROM Contact WHERE Email = {} AND LastName = {} AND Title = {}",
                    "O'Neil@example.com", "o'neil", 'Says "hi" \\ and\ttabs')
    assert [r["Id"] for r in sf.query(q)["records"]] == [tricky]
    minus5 = timezone(timedelta(hours=-5))
    q = format_soql("SELECT Id FROM Lead WHERE SystemModstamp > {start} AND SystemModstamp <= {end}",
                    start=datetime(2024, 5, 1, 9, 0, 0, 999000, tzinfo=minus5),  # 14:00:00Z, micros dropped
                    end=T0 + timedelta(hours=4))
    assert {r["Id"] for r in sf.query(q)["records"]} == {leads["cara"], leads["dan"]}
    q = format_soql("SELECT Id FROM Lead WHERE Company LIKE '{:like}%' AND ConvertedDate = {} OR Id IN {}",
                    "50% Off", None, [leads["eve"]])
    with pytest.raises(SalesforceMalformedRequest):  # AND and OR mixed without parentheses
        sf.query(q)
    q = format_soql("SELECT Id FROM Lead WHERE (Company LIKE '{:like}%' AND ConvertedDate = {}) OR Id IN {}",
                    "50% Off", None, [leads["eve"]])
    assert {r["Id"] for r in sf.query(q)["records"]} == {leads["dan"], leads["eve"]}
    q = format_soql("SELECT Id FROM Lead WHERE ConvertedDate = {} AND IsConverted = {}", date(2024, 4, 30), True)
    assert [r["Id"] for r in sf.query(q)["records"]] == [leads["eve"]]
