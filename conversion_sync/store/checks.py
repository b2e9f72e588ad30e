"""The queries of the asset checks on the contacts: each returns the offending rows' keys."""

from __future__ import annotations

from sqlalchemy import Connection, and_, func, select

from conversion_sync.store.schema import companies, contacts, salesforce_records


def ids_linked_twice(conn: Connection) -> list[str]:
    """Salesforce ids linked to more than one contact."""
    return list(conn.execute(select(contacts.c.salesforce_id).where(contacts.c.salesforce_id.is_not(None))
                             .group_by(contacts.c.salesforce_id).having(func.count() > 1)).scalars().all())


def linked_without_email(conn: Connection) -> list[int]:
    """Contacts linked to Salesforce that have no email."""
    return list(conn.execute(select(contacts.c.id).where(contacts.c.salesforce_id.is_not(None),
                                                         contacts.c.email_key.is_(None))).scalars().all())


def contacts_in_wrong_company(conn: Connection) -> list[int]:
    """Contacts of a Salesforce Contact with an Account that are not in that Account's company."""
    sr = salesforce_records
    query = (select(contacts.c.id)
             .join(sr, and_(sr.c.salesforce_id == contacts.c.salesforce_id, sr.c.sobject == "Contact",
                            sr.c.pending.is_(False), sr.c.is_deleted.is_(False), sr.c.account_id.is_not(None)))
             .outerjoin(companies, companies.c.salesforce_account_id == sr.c.account_id)
             .where((companies.c.id.is_(None)) | (companies.c.id != contacts.c.company_id)))
    return list(conn.execute(query).scalars().all())


def shared_emails(conn: Connection) -> list[str]:
    """Emails (their match keys) that more than one contact has."""
    return list(conn.execute(select(contacts.c.email_key).where(contacts.c.email_key.is_not(None))
                             .group_by(contacts.c.email_key).having(func.count() > 1)).scalars().all())
