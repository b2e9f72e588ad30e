"""The Conversion schema (SQLAlchemy Core), its upgrades, the sync lock and all of the SQL."""
