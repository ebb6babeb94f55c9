"""The content room's SQL: the version each stage answers from.

Tables are unqualified: the pool's search path is the dialog's schema (services/dialog/db.py)."""

# The test stage answers from the newest version, the release stage from the last published.
TEST_VERSION = "SELECT coalesce(max(version), 0) FROM bot_content WHERE project_key = $1"
RELEASE_VERSION = """
SELECT coalesce(max(version), 0) FROM releases
WHERE id = (SELECT max(id) FROM releases WHERE project_key = $1)
"""
