"""The audit trail's defences in the database: privilege separation (``db_roles``), the hash
chain over every audit event (``chain``) and what the auditor is shown of the database session
behind each event (``sessions``). See docs/security.md."""
