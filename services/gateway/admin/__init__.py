"""The gateway's admin API: one router per resource (see docs/architecture/admin.md)."""
