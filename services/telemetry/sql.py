"""The telemetry store's SQL, in one place so that each statement can be read as a whole."""

SCHEMA, SAMPLES = "telemetry", "samples"  # a batch is copied straight into it, and only when
# some of its samples are stored already (a redelivery) through the staging table below
STAGING = "telemetry_samples_in"
# Temporary: private to its connection, emptied by every commit, never WAL-logged.
CREATE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS telemetry_samples_in (LIKE telemetry.samples)
ON COMMIT DELETE ROWS
"""

# Sorted so two batches holding the same redelivered samples take their locks in one order.
INSERT_FROM_STAGING = """
INSERT INTO telemetry.samples (project_key, robot_id, metric, received_at, value, event_id)
SELECT project_key, robot_id, metric, received_at, value, event_id FROM telemetry_samples_in
ORDER BY event_id, metric
ON CONFLICT (event_id, metric) DO NOTHING
"""

# Each metric keeps its newest value: a newer sample overwrites the metrics it has, an older
# one (redelivered, or from a slower batch) only adds metrics the row does not have yet.
UPSERT_LATEST = """
INSERT INTO telemetry.latest AS l (project_key, robot_id, received_at, event_id, metrics)
SELECT p, r, t, e, m::jsonb
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[], $5::text[]) AS u(p, r, t, e, m)
ON CONFLICT (project_key, robot_id) DO UPDATE
SET received_at = greatest(l.received_at, excluded.received_at),
    event_id = CASE WHEN (l.received_at, l.event_id) < (excluded.received_at, excluded.event_id)
                    THEN excluded.event_id ELSE l.event_id END,
    metrics = CASE WHEN (l.received_at, l.event_id) < (excluded.received_at, excluded.event_id)
                   THEN l.metrics || excluded.metrics ELSE excluded.metrics || l.metrics END
WHERE (l.received_at, l.event_id) < (excluded.received_at, excluded.event_id)
   OR NOT l.metrics ?& ARRAY(SELECT jsonb_object_keys(excluded.metrics))
"""

# A sample is a sign of life; last_seen only ever moves forward.
TOUCH_ROBOTS = """
INSERT INTO telemetry.robots AS r (project_key, robot_id, last_seen)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[])
ON CONFLICT (project_key, robot_id) DO UPDATE SET last_seen = excluded.last_seen
WHERE r.last_seen IS NULL OR r.last_seen < excluded.last_seen
"""

LATEST = """
SELECT robot_id, received_at, metrics::text AS metrics FROM telemetry.latest
WHERE project_key = $1 AND ($2::text IS NULL OR robot_id = $2)
ORDER BY robot_id
"""

# date_bin aligns buckets on the range start; only non-empty buckets come back.
BUCKETS = """
SELECT date_bin(make_interval(secs => $6), received_at, $4) AS start,
       count(*) AS count, min(value) AS min, avg(value) AS avg, max(value) AS max
FROM telemetry.samples
WHERE project_key = $1 AND robot_id = $2 AND metric = $3
  AND received_at >= $4 AND received_at < $5
GROUP BY 1 ORDER BY 1
"""

ROBOTS = """
SELECT robot_id, connected, last_seen, protocol FROM telemetry.robots
WHERE project_key = $1 ORDER BY robot_id
"""

COMMANDS = """
SELECT command_id, robot_id, type, issued_at, expires_at, issued_by,
       delivered_at, acknowledged_at, expired_at, data::text AS data
FROM telemetry.commands
WHERE project_key = $1 AND ($2::text IS NULL OR robot_id = $2)
  AND ($3::uuid IS NULL OR command_id = $3)
ORDER BY COALESCE(issued_at, delivered_at, acknowledged_at, expired_at) DESC, command_id DESC
LIMIT $4
"""

# "connected" / "seen" / "heartbeat": the row exists and last_seen moves forward ...
PRESENCE_SEEN = """
INSERT INTO telemetry.robots AS r
    (project_key, robot_id, connected, connection, protocol, connected_at, last_seen)
VALUES ($1, $2, true, $3, $4, $5, $5)
ON CONFLICT (project_key, robot_id) DO UPDATE
SET last_seen = greatest(r.last_seen, excluded.last_seen)
"""
# ... and a socket other than the current one takes over unless it is older than it (REST
# heartbeats come as one connection, "rest", which takes over from a socket the same way).
PRESENCE_TAKE_OVER = """
UPDATE telemetry.robots
SET connected = NOT ($3 = ANY(closed)), connection = $3, protocol = $4, connected_at = $5
WHERE project_key = $1 AND robot_id = $2
  AND connection IS DISTINCT FROM $3 AND (connected_at IS NULL OR connected_at <= $5)
"""
# Only the closing of the current socket disconnects: a robot that reconnected stays connected.
# The closed socket is remembered (the newest 16 of them), because the events of one
# fetch are applied concurrently: a socket's close may be stored before its open, and that
# open must not take over as connected.
PRESENCE_DISCONNECTED = """
INSERT INTO telemetry.robots AS r
    (project_key, robot_id, connected, connection, protocol, last_seen, closed)
VALUES ($1, $2, false, $3, $4, $5, ARRAY[$3::text])
ON CONFLICT (project_key, robot_id) DO UPDATE
SET connected = r.connected AND r.connection IS DISTINCT FROM excluded.connection,
    last_seen = greatest(r.last_seen, excluded.last_seen),
    closed = (excluded.connection || array_remove(r.closed, excluded.connection))[1:16]
"""

# Each command event fills only its own columns, so any order and any repeat give one result.
# An event naming another project's or robot's command id changes nothing (a robot may send any
# id in its ack).
COMMAND_ISSUED = """
INSERT INTO telemetry.commands AS c
    (command_id, project_key, robot_id, type, issued_at, expires_at, issued_by, data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
ON CONFLICT (command_id) DO UPDATE
SET type = COALESCE(c.type, excluded.type),
    data = COALESCE(c.data, excluded.data),
    issued_at = COALESCE(c.issued_at, excluded.issued_at),
    expires_at = COALESCE(c.expires_at, excluded.expires_at),
    issued_by = COALESCE(c.issued_by, excluded.issued_by)
WHERE c.project_key = excluded.project_key AND c.robot_id = excluded.robot_id
"""
COMMAND_PROGRESS = """
INSERT INTO telemetry.commands AS c
    (command_id, project_key, robot_id, delivered_at, acknowledged_at, expired_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (command_id) DO UPDATE
SET delivered_at = COALESCE(c.delivered_at, excluded.delivered_at),
    acknowledged_at = COALESCE(c.acknowledged_at, excluded.acknowledged_at),
    expired_at = COALESCE(c.expired_at, excluded.expired_at)
WHERE c.project_key = excluded.project_key AND c.robot_id = excluded.robot_id
"""

# A redelivered report is a no-op (event_id is the key).
INSERT_REPORT = """
INSERT INTO telemetry.reports
    (event_id, project_key, robot_id, key, record_id, payload, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
ON CONFLICT (event_id) DO NOTHING
"""
REPORTS = """
SELECT event_id, robot_id, key, record_id, payload::text AS payload, occurred_at
FROM telemetry.reports
WHERE project_key = $1 AND ($2::text IS NULL OR robot_id = $2)
  AND ($3::text IS NULL OR key = $3) AND ($4::text IS NULL OR record_id = $4)
ORDER BY occurred_at DESC, event_id DESC
LIMIT $5
"""

# Session-level lock: one replica purges at a time, the others skip their turn.
TRY_RETENTION_LOCK = "SELECT pg_try_advisory_lock(hashtext('telemetry.retention'))"
RETENTION_UNLOCK = "SELECT pg_advisory_unlock(hashtext('telemetry.retention'))"
PURGE_CHUNK = """
DELETE FROM telemetry.samples WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM telemetry.samples WHERE received_at < $1 LIMIT $2
))
"""
PURGE_REPORTS_CHUNK = """
DELETE FROM telemetry.reports WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM telemetry.reports WHERE occurred_at < $1 LIMIT $2
))
"""
PURGE_LATEST = "DELETE FROM telemetry.latest WHERE received_at < $1"
