"""The schedule store's SQL, in one place so that each statement can be read as a whole."""

# Writers of one robot's schedule take this lock (class, hash of project/robot) for the whole
# change *and* its push to the robot, so pushes leave in the order the changes committed.
# Session-level: it outlives the transaction, and dies with the connection.
LOCK_ROBOT = "SELECT pg_advisory_lock(5091, hashtext($1::uuid::text || '/' || $2))"
UNLOCK_ROBOT = "SELECT pg_advisory_unlock(5091, hashtext($1::uuid::text || '/' || $2))"

NAMES = """
SELECT name FROM schedule.entries WHERE project_key = $1 AND robot_id = $2
"""

SCHEDULE = """
SELECT name, value::text AS value FROM schedule.entries
WHERE project_key = $1 AND robot_id = $2 ORDER BY name
"""

# An updated entry keeps its id; last_fired_at stays as a record of its last firing.
UPSERT = """
INSERT INTO schedule.entries AS e
    (id, project_key, robot_id, name, value, timezone, cron, next_due_at, created_at, updated_at)
SELECT gen_random_uuid(), $1, $2, u.name, u.value::jsonb, u.timezone, u.cron, u.due, $8, $8
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
    AS u(name, value, timezone, cron, due)
ORDER BY u.name
ON CONFLICT (project_key, robot_id, name) DO UPDATE
SET value = excluded.value, timezone = excluded.timezone, cron = excluded.cron,
    next_due_at = excluded.next_due_at, updated_at = excluded.updated_at
"""

DELETE = """
DELETE FROM schedule.entries
WHERE project_key = $1 AND robot_id = $2 AND ($3::text[] IS NULL OR name = ANY($3::text[]))
"""

# Rows another replica is firing are skipped, not waited for: each entry is fired by exactly
# one replica, and no replica stalls behind another.
DUE = """
SELECT id, project_key, robot_id, name, cron, timezone, next_due_at FROM schedule.entries
WHERE next_due_at <= $1
ORDER BY next_due_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""

ADVANCE = """
UPDATE schedule.entries AS e
SET next_due_at = u.next_due, last_fired_at = coalesce(u.fired_at, e.last_fired_at)
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS u(id, next_due, fired_at)
WHERE e.id = u.id
"""
