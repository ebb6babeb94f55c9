"""The content room's SQL: versions (appended under the project's lock, never changed), the
texts of their files, the version each stage answers from and the release's publications.

Tables are unqualified: the pool's search path is the dialog's schema (services/dialog/db.py)."""

# Content changes of one project wait for each other until the transaction ends ($1: the
# project key as text), so concurrent saves get consecutive version numbers.
LOCK = "SELECT pg_advisory_xact_lock(hashtext($1))"

# The test stage answers from the newest version, the release stage from the last published.
TEST_VERSION = "SELECT coalesce(max(version), 0) FROM bot_content WHERE project_key = $1"
RELEASE_VERSION = """
SELECT coalesce(max(version), 0) FROM releases
WHERE id = (SELECT max(id) FROM releases WHERE project_key = $1)
"""

VERSION = "SELECT * FROM bot_content WHERE project_key = $1 AND version = $2"

ADD_VERSION = """
INSERT INTO bot_content
    (project_key, version, correlation_id, change, files, maps, sets, properties, categories,
     faq, intents, chain, machine, faq_groups, intent_count, machine_states)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING created_at
"""
CONTENT_FIELDS = (  # what a new content version copies from the one before, unless given
    "files",
    "maps",
    "sets",
    "properties",
    "categories",
    "faq",
    "intents",
    "chain",
    "machine",
    "faq_groups",
    "intent_count",
    "machine_states",
)
ADD_VERSION_COLUMNS = ("project_key", "version", "correlation_id", "change", *CONTENT_FIELDS)

# A file's text is kept once per project and digest: the versions that keep a file share it.
KEEP_TEXTS = """
INSERT INTO content_blobs (project_key, sha256, text)
SELECT $1, u.sha256, u.text FROM unnest($2::text[], $3::text[]) AS u(sha256, text)
ON CONFLICT DO NOTHING
"""
TEXTS = """
SELECT sha256, text FROM content_blobs WHERE project_key = $1 AND sha256 = ANY($2::text[])
"""

PUBLISH = "INSERT INTO releases (project_key, version, correlation_id) VALUES ($1, $2, $3)"

# The newest $2 versions, each with when it was last published (null: never).
VERSIONS = """
SELECT c.version, c.created_at, c.change, c.categories, c.faq_groups, c.intent_count,
    c.machine_states, r.at AS released_at
FROM bot_content c
LEFT JOIN (SELECT version, max(published_at) AS at FROM releases WHERE project_key = $1
           GROUP BY version) r ON r.version = c.version
WHERE c.project_key = $1
ORDER BY c.version DESC
LIMIT $2
"""
