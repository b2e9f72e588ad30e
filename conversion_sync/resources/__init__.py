"""I/O behind Dagster resources: the Salesforce client (simple-salesforce) and the Conversion database."""
