"""The sessions room's SQL: a session under its row lock, its tombstone, what was said since
its last turn, its history, and the writes of a merge, a deletion and a message said first.

Tables are unqualified: the pool's search path is the dialog's schema (a replay's, when it
rebuilds one), see services/dialog/db.py."""

FIND = "SELECT * FROM sessions WHERE project_key = $1 AND session_id = $2"
LOCK = FIND + " FOR UPDATE"
SHARE = FIND + " FOR SHARE"  # waits for a turn being answered to be stored
DELETED = """
SELECT EXISTS (SELECT 1 FROM deleted_sessions WHERE project_key = $1 AND session_id = $2)
"""

# A new session: the columns not given keep their defaults (data {}, channels [], version 0).
OPEN = """
INSERT INTO sessions (project_key, session_id, protocol, state) VALUES ($1, $2, $3, '{}')
ON CONFLICT DO NOTHING
RETURNING session_id
"""

CREATE = """
INSERT INTO sessions
    (project_key, session_id, protocol, data, state, channel, seq, channels, handoff, version,
     last_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, now()))
"""
CREATE_COLUMNS = (
    "project_key",
    "session_id",
    "protocol",
    "data",
    "state",
    "channel",
    "seq",
    "channels",
    "handoff",
    "version",
    "last_at",
)

# A session as a turn (or a message said first) leaves it, under its row lock.
SAVE = """
UPDATE sessions SET protocol = $3, data = $4, state = $5, channel = $6, seq = $7,
    channels = $8, handoff = $9, version = $10, last_at = coalesce($11, now()),
    updated_at = now()
WHERE project_key = $1 AND session_id = $2
"""
SAVE_COLUMNS = CREATE_COLUMNS

# jsonb `||` in one UPDATE: concurrent merges wait for each other's row lock and each applies
# to what the previous one left. The version moves on: a batch that read the row answers again.
MERGE = """
UPDATE sessions SET data = data || $3, state = state || $4, version = version + 1,
    updated_at = now()
WHERE project_key = $1 AND session_id = $2
RETURNING *
"""

DELETE = "DELETE FROM sessions WHERE project_key = $1 AND session_id = $2"
DELETE_TURNS = "DELETE FROM turns WHERE project_key = $1 AND session_id = $2"
TOMBSTONE = """
INSERT INTO deleted_sessions (project_key, session_id) VALUES ($1, $2) ON CONFLICT DO NOTHING
"""

PREVIOUS_TURN = "SELECT * FROM turns WHERE turn_event_id = $1"

INSERT_TURN = """
INSERT INTO turns
    (turn_event_id, reply_event_id, correlation_id, project_key, session_id, protocol,
     question, answer, engine, content_version, received_at, answered_at, engine_ms, stage,
     details, kind)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING id
"""
TURN_COLUMNS = (
    "turn_event_id",
    "reply_event_id",
    "correlation_id",
    "project_key",
    "session_id",
    "protocol",
    "question",
    "answer",
    "engine",
    "content_version",
    "received_at",
    "answered_at",
    "engine_ms",
    "stage",
    "details",
    "kind",
)

# What was said first since the session's last turn: the newest $3, newest first.
SAID_SINCE = """
SELECT answer FROM turns
WHERE project_key = $1 AND session_id = $2 AND kind = 'said' AND id > coalesce(
    (SELECT max(id) FROM turns WHERE project_key = $1 AND session_id = $2 AND kind = 'turn'), 0)
ORDER BY id DESC LIMIT $3
"""

# The user's turns since the last reset (included), answered up to $3 (null: any), newest first.
HISTORY = """
SELECT * FROM turns
WHERE project_key = $1 AND session_id = $2 AND kind = 'turn' AND id >= coalesce(
    (SELECT max(id) FROM turns WHERE project_key = $1 AND session_id = $2 AND kind = 'turn'
     AND details ->> 'event' = 'reset'), 0)
AND ($3::timestamptz IS NULL OR answered_at <= $3)
ORDER BY id DESC LIMIT $4
"""
