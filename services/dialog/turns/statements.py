"""The turn path's SQL: the reads of a batch, the fenced writes of its sessions, its transcript
rows by COPY or by one INSERT, the stage versions and what was said since a turn."""

# ruff: noqa: S608  (the statements are built from this module's own constants, never input)

from ..sessions.sql import TURN_COLUMNS as TURN_COLUMNS  # the transcript's, as sessions write them

SESSION_COLUMNS = (
    "x.project_key, x.session_id, x.protocol, x.data, x.state, x.channel, x.seq, x.channels,"
    " x.last_at, x.handoff, x.version"
)
_KEYS = "unnest($1::uuid[], $2::text[]) AS k(project_key, session_id)"
_MATCH = "x.project_key = k.project_key AND x.session_id = k.session_id"
LOAD_SESSIONS = f"SELECT {SESSION_COLUMNS} FROM dialog.sessions x JOIN {_KEYS} ON {_MATCH}"
LOAD_DELETED = (
    f"SELECT x.project_key, x.session_id FROM dialog.deleted_sessions x JOIN {_KEYS} ON {_MATCH}"
)
STORED = "SELECT * FROM dialog.turns WHERE turn_event_id = ANY($1::uuid[])"
LAST_ROW = (
    "SELECT * FROM dialog.turns WHERE project_key = $1 AND session_id = $2 ORDER BY id DESC LIMIT 1"
)
_CHANGES = (
    # jsonb travels as text: asyncpg would read a list value (channels) as an array dimension
    "unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],"
    " $8::text[], $9::timestamptz[], $10::bigint[])"
    " AS u(project_key, session_id, protocol, data, state, channel, seq, channels, last_at,"
    " version)"
)


# A session the batch read at version v is written only while it still is at v.
UPDATE_SESSIONS = f"""
    UPDATE dialog.sessions s SET protocol = u.protocol, data = u.data::jsonb,
        state = u.state::jsonb, channel = u.channel, seq = u.seq, channels = u.channels::jsonb,
        last_at = coalesce(u.last_at, now()),
        version = s.version + 1, updated_at = now()
    FROM {_CHANGES}
    WHERE s.project_key = u.project_key AND s.session_id = u.session_id AND s.version = u.version
    RETURNING s.project_key, s.session_id"""


# A session the batch found new is created only if nobody made (or deleted) it meanwhile.
INSERT_SESSIONS = f"""
    INSERT INTO dialog.sessions AS s
        (project_key, session_id, protocol, data, state, channel, seq, channels, last_at, version)
    SELECT u.project_key, u.session_id, u.protocol, u.data::jsonb, u.state::jsonb, u.channel,
        u.seq, u.channels::jsonb, coalesce(u.last_at, now()), 1
    FROM {_CHANGES}
    WHERE NOT EXISTS (SELECT 1 FROM dialog.deleted_sessions d
                      WHERE d.project_key = u.project_key AND d.session_id = u.session_id)
    ON CONFLICT (project_key, session_id) DO NOTHING
    RETURNING s.project_key, s.session_id"""
STAGING = "turns_in"
CREATE_STAGING = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} ON COMMIT DELETE ROWS AS"
    f" SELECT 0::int AS ord, {', '.join(TURN_COLUMNS)} FROM dialog.turns WITH NO DATA"
)
INSERT_TURNS = (
    f"INSERT INTO dialog.turns ({', '.join(TURN_COLUMNS)})"
    f" SELECT {', '.join(TURN_COLUMNS)} FROM {STAGING} ORDER BY ord"
    " ON CONFLICT (turn_event_id) DO NOTHING"
)


# A small batch's rows go in one statement (one round trip; COPY and the INSERT from the staging
# table take three): in batch order, with the same guard.
_ROWS = (
    "unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],"
    " $8::text[], $9::text[], $10::int[], $11::timestamptz[], $12::timestamptz[],"
    " $13::float8[], $14::text[], $15::text[], $16::text[])"
    f" WITH ORDINALITY AS u({', '.join(TURN_COLUMNS)}, ord)"
)
INSERT_TURN_ROWS = (
    f"INSERT INTO dialog.turns ({', '.join(TURN_COLUMNS)})"
    f" SELECT {', '.join('u.details::json' if c == 'details' else f'u.{c}' for c in TURN_COLUMNS)}"
    f" FROM {_ROWS} ORDER BY u.ord"
    " ON CONFLICT (turn_event_id) DO NOTHING"
)
TEST_VERSION = "SELECT coalesce(max(version), 0) FROM dialog.bot_content WHERE project_key = $1"
RELEASE_VERSION = (
    "SELECT coalesce(max(version), 0) FROM dialog.releases WHERE id ="
    " (SELECT max(id) FROM dialog.releases WHERE project_key = $1)"
)


# What was said first: by an operator or a schedule (kind said), or by a state machine whose
# condition the clock found true (a tick's answer), since the user's last turn.
SAID_SINCE = """
    SELECT answer FROM dialog.turns
    WHERE project_key = $1 AND session_id = $2
    AND (kind = 'said' OR (details ->> 'event' = 'tick' AND engine <> 'none')) AND id > coalesce(
        (SELECT max(id) FROM dialog.turns WHERE project_key = $1 AND session_id = $2
         AND kind = 'turn' AND coalesce(details ->> 'event', '') <> 'tick'), 0)
    ORDER BY id DESC LIMIT $3"""
