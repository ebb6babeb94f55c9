"""The identity stores' SQL: projects, admin and robot tokens, robot credentials, the audit log.

Tables are qualified (`identity.`): identity is one schema every service reads, so the
statements run on any service's pool whatever its search path. JSON columns are read as text
and written from text (`$n::text::jsonb`), so they mean the same on a pool with json codecs
(the dialog's) and on one without (the gateway's)."""

# ruff: noqa: S608  (statements built from this module's constants; values are bind parameters)
# ruff: noqa: S105  (names of statements about tokens, not tokens)

# ---- projects ---------------------------------------------------------------------------------

PROJECT = """key, name, secret_hash, secret_prefix, title, description, goal, rules, system,
    fallback, settings::text AS settings, created_at"""

PROJECT_BY_KEY = f"SELECT {PROJECT} FROM identity.projects WHERE key = $1"
PROJECT_BY_NAME = f"SELECT {PROJECT} FROM identity.projects WHERE name = $1"
PROJECT_BY_SECRET = f"SELECT {PROJECT} FROM identity.projects WHERE secret_hash = $1"
PROJECTS = f"SELECT {PROJECT} FROM identity.projects ORDER BY name"

# Up to $3 projects by name after the name $2 (null: from the first), only keys $1 (null: all).
PROJECT_PAGE = f"""
SELECT {PROJECT} FROM identity.projects
WHERE ($1::uuid[] IS NULL OR key = ANY($1::uuid[])) AND ($2::text IS NULL OR name > $2::text)
ORDER BY name LIMIT $3
"""

# A name taken already inserts nothing (no row returned): ProjectExists.
CREATE_PROJECT = f"""
INSERT INTO identity.projects
    (key, name, secret_hash, secret_prefix, title, fallback, settings)
VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)
ON CONFLICT (name) DO NOTHING
RETURNING {PROJECT}
"""

ROTATE_SECRET = f"""
UPDATE identity.projects SET secret_hash = $2, secret_prefix = $3 WHERE key = $1
RETURNING {PROJECT}
"""

# Whether a project other than $2 is named $1 (a rename to a taken name is refused).
NAME_TAKEN = "SELECT EXISTS (SELECT 1 FROM identity.projects WHERE name = $1 AND key <> $2)"

# Each field given ($2..$8, null: unchanged) replaces the project's.
UPDATE_PROJECT = f"""
UPDATE identity.projects SET
    name = coalesce($2, name), title = coalesce($3, title),
    description = coalesce($4, description), goal = coalesce($5, goal),
    rules = coalesce($6, rules), system = coalesce($7, system),
    fallback = coalesce($8, fallback)
WHERE key = $1
RETURNING {PROJECT}
"""
UPDATE_FIELDS = ("name", "title", "description", "goal", "rules", "system", "fallback")

# One setting replaced, the others kept: jsonb `||` in one UPDATE, so concurrent changes of
# two settings both stay.
SET_SETTING = f"""
UPDATE identity.projects SET settings = settings || jsonb_build_object($2::text, $3::text::jsonb)
WHERE key = $1
RETURNING {PROJECT}
"""

DELETE_PROJECT_TOKENS = "DELETE FROM identity.robot_tokens WHERE project_key = $1"
DELETE_PROJECT_CREDENTIALS = "DELETE FROM identity.robot_credentials WHERE project_key = $1"
DELETE_PROJECT = "DELETE FROM identity.projects WHERE key = $1 RETURNING key"

# ---- admin tokens -----------------------------------------------------------------------------

ADMIN = "id, name, token_hash, token_prefix, projects::text AS projects, role, created_at"

ADMIN_BY_HASH = f"SELECT {ADMIN} FROM identity.admin_tokens WHERE token_hash = $1"
ADMINS = f"SELECT {ADMIN} FROM identity.admin_tokens ORDER BY created_at"
REVOKE_ADMIN = "DELETE FROM identity.admin_tokens WHERE name = $1 RETURNING id"

# A name taken already inserts nothing (no row returned): TokenExists (with `replace`, the
# token of that name is revoked first, in the same transaction).
CREATE_ADMIN = f"""
INSERT INTO identity.admin_tokens (id, name, token_hash, token_prefix, projects, role)
VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)
ON CONFLICT (name) DO NOTHING
RETURNING {ADMIN}
"""

# ---- robot tokens and credentials ---------------------------------------------------------------

ROBOT_TOKEN = "SELECT * FROM identity.robot_tokens WHERE token_hash = $1"
DROP_ROBOT_TOKENS = "DELETE FROM identity.robot_tokens WHERE project_key = $1 AND robot_id = $2"
ISSUE_ROBOT_TOKEN = """
INSERT INTO identity.robot_tokens (token_hash, project_key, robot_id, token_prefix)
VALUES ($1, $2, $3, $4)
"""

CREDENTIAL = "SELECT * FROM identity.robot_credentials WHERE secret_hash = $1"
# A robot that has a credential already gets none (no row returned).
ISSUE_CREDENTIAL = """
INSERT INTO identity.robot_credentials (secret_hash, project_key, robot_id, secret_prefix)
VALUES ($1, $2, $3, $4)
ON CONFLICT (project_key, robot_id) DO NOTHING
RETURNING secret_hash
"""
REVOKE_CREDENTIAL = """
DELETE FROM identity.robot_credentials WHERE project_key = $1 AND robot_id = $2
RETURNING secret_hash
"""

# ---- the audit log ----------------------------------------------------------------------------

RECORD = """
INSERT INTO identity.audit_log (actor, action, target, status, project_key, details)
VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)
"""

# Newest first: entries about projects $1 (null: every entry, also about no project) older than
# the id $2 (null: from the newest), $3 of them.
AUDIT_PAGE = """
SELECT id, at, actor, project_key, action, target, status, details::text AS details
FROM identity.audit_log
WHERE ($1::uuid[] IS NULL OR project_key = ANY($1::uuid[])) AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC LIMIT $3
"""
