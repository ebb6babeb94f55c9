"""The conversations room's SQL: sessions with their list columns, a page of them under the
optional filters (each condition a template whose `{}` slots take bind parameters, joined by
queries.Conditions), a transcript, the export, a handoff and the inbox.

Tables are unqualified: the pool's search path is the dialog's schema (services/dialog/db.py).
`s` is always the session row; the filters' turn rows are `hit` (the export reads `t` too)."""

# ruff: noqa: S608  (statements built from this module's constants; values are bind parameters)

from shared.contracts.conversation import SNIPPET_CHARS

# A session's number of user turns and its newest message (cut), as a list shows them.
LIST_COLUMNS = f"""
    (SELECT count(*) FROM turns c
     WHERE c.project_key = s.project_key AND c.session_id = s.session_id AND c.kind = 'turn')
        AS listed_turns,
    coalesce(
        (SELECT left(CASE WHEN n.answer <> '' THEN n.answer ELSE n.question END, {SNIPPET_CHARS})
         FROM turns n WHERE n.project_key = s.project_key AND n.session_id = s.session_id
         ORDER BY n.id DESC LIMIT 1),
        '') AS listed_text"""
LISTING = f"SELECT s.*, {LIST_COLUMNS}\nFROM sessions s\n"
LISTED_COLUMNS = ("listed_turns", "listed_text")

NEWEST_FIRST = "ORDER BY s.last_at DESC, s.session_id DESC"
FIND = LISTING + "WHERE {} " + NEWEST_FIRST + " LIMIT {}"  # conditions, limit
LISTED = LISTING + "WHERE s.project_key = $1 AND s.session_id = $2"

# The optional filters' conditions (queries.session_conditions, queries.window).
PROJECT_IS = "s.project_key = {}"
PROTOCOL_IS = "s.protocol = {}"
HELD = "s.handoff IS NOT NULL"
NOT_HELD = "s.handoff IS NULL"
BEFORE = "(s.last_at, s.session_id) < ({}, {})"  # a page after a position
HAS_HIT = """EXISTS (SELECT 1 FROM turns hit
    WHERE hit.project_key = s.project_key AND hit.session_id = s.session_id AND {})"""
SINCE = {"hit": "hit.answered_at >= {}", "t": "t.answered_at >= {}"}  # by the turn's alias
UNTIL = {"hit": "hit.answered_at < {}", "t": "t.answered_at < {}"}
HOLDS_TEXT = "(hit.question ILIKE {0} OR hit.answer ILIKE {0})"  # queries.like_pattern
ENGINE_IS = "hit.engine = {}"
# The best candidate's score of an FAQ or NLU answer (null for other engines).
LESS_SURE = """coalesce(
    json_extract_path_text(hit.details, 'faq', 'candidates', '0', 'score')::float,
    json_extract_path_text(hit.details, 'intent', 'candidates', '0', 'score')::float) < {}"""

TURNS = """
SELECT * FROM turns WHERE project_key = $1 AND session_id = $2 AND id > $3 ORDER BY id LIMIT $4
"""

# The project's rows after a row id, of the sessions the conditions match, with their
# session's protocol: conditions (on s, and on the window of t), then after, then limit.
EXPORT = """
SELECT t.*, s.protocol AS session_protocol
FROM turns t JOIN sessions s ON t.project_key = s.project_key AND t.session_id = s.session_id
WHERE {} AND t.id > {} ORDER BY t.id LIMIT {}
"""

LOCK = "SELECT handoff FROM sessions WHERE project_key = $1 AND session_id = $2 FOR UPDATE"
# The version moves on: a batch of turns that read the row answers them again.
HAND_OFF = """
UPDATE sessions SET handoff = $3, version = version + 1, updated_at = now()
WHERE project_key = $1 AND session_id = $2
RETURNING *
"""
SESSION = "SELECT * FROM sessions WHERE project_key = $1 AND session_id = $2"

# Sessions an operator holds, and sessions nobody holds (active in the last $5 days) whose
# machine rests in one of the states $4 or whose newest user turn matching a keyword pattern
# ($2, queries.like_pattern) or an intent ($3) came after the last row an operator said or
# held. `later` is correlated to this row's session: not correlated, an operator's message in
# ANY session (any project's) after the trigger would hide it from this inbox.
INBOX = f"""
SELECT s.*, {LIST_COLUMNS}, raised_by.said, raised_by.intent,
    jsonb_extract_path_text(s.state, '_machine', 'state') AS at_state
FROM sessions s
LEFT JOIN LATERAL (
    SELECT raised.question AS said,
        json_extract_path_text(raised.details, 'intent', 'name') AS intent
    FROM turns raised
    WHERE raised.project_key = s.project_key AND raised.session_id = s.session_id
    AND raised.kind = 'turn'
    AND (raised.question ILIKE ANY($2::text[])
         OR json_extract_path_text(raised.details, 'intent', 'name') = ANY($3::text[]))
    AND NOT EXISTS (
        SELECT 1 FROM turns later
        WHERE later.project_key = s.project_key AND later.session_id = s.session_id
        AND later.id > raised.id
        AND json_extract_path_text(later.details, 'operator') IS NOT NULL)
    ORDER BY raised.id DESC LIMIT 1
) raised_by ON TRUE
WHERE s.project_key = $1
AND (s.handoff IS NOT NULL OR s.last_at >= now() - make_interval(days => $5))
AND (s.handoff IS NOT NULL OR raised_by.said IS NOT NULL
     OR jsonb_extract_path_text(s.state, '_machine', 'state') = ANY($4::text[]))
{NEWEST_FIRST}
LIMIT $6
"""
INBOX_COLUMNS = ("said", "intent", "at_state")
