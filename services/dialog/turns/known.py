"""The sessions a partition's owner keeps in memory between its batches (read once, then as it
wrote them)."""

from collections.abc import Sequence

from .store import Changed, SessionKey, SessionState, TurnBatches, TurnRecord


class KnownSessions:
    """The sessions of a partition as its owner last wrote them (no read before their next
    batch). Whatever else changes a session bumps its version, so a stale one here only costs
    a refused write, after which it is read again; a new owner starts empty."""

    def __init__(self, most: int = 50_000) -> None:
        self._rows: dict[SessionKey, SessionState] = {}
        self._quiet: set[SessionKey] = set()  # their newest transcript row was written here
        self._most = most

    async def read(
        self, store: TurnBatches, keys: Sequence[SessionKey]
    ) -> dict[SessionKey, SessionState | None]:
        """The sessions of `keys`: those known from here, the others read from `store`."""
        found: dict[SessionKey, SessionState | None] = {
            k: self._rows[k] for k in keys if k in self._rows
        }
        missing = [k for k in keys if k not in found]
        if missing:
            found.update(await store.read_sessions(missing))
        return found

    def quiet(self, key: SessionKey) -> bool:
        """Whether nothing was said in a known session since its newest turn, which this owner
        wrote (an operator's message bumps the version: the write is refused, the session read
        again and what was said looked up)."""
        return key in self._quiet and key in self._rows

    def written(
        self,
        changed: Sequence[Changed],
        refused: set[SessionKey],
        turns: Sequence[TurnRecord] = (),
    ) -> None:
        """Keep what a batch wrote (at the version the write gave it); forget the refused."""
        newest: dict[SessionKey, TurnRecord] = {}
        for t in turns:
            newest[(t.project_key, t.session_id)] = t
        # Quiet: the session's newest row is a user's turn. A machine's tick is said to the
        # user unasked, so RSVP must hear it with its next answer (SAID_SINCE counts it).
        with_turns = {
            key
            for key, t in newest.items()
            if t.kind == "turn" and (t.details or {}).get("event") != "tick"
        }
        for c in changed:
            key = (c.row.project_key, c.row.session_id)
            self._rows.pop(key, None)
            if key in refused:
                self._quiet.discard(key)
                continue
            c.row.version = 1 if c.read is None else c.read + 1
            self._rows[key] = c.row
            if key in with_turns:
                self._quiet.add(key)
            else:
                self._quiet.discard(key)
        while len(self._rows) > self._most:
            self._quiet.discard(next(iter(self._rows)))
            self._rows.pop(next(iter(self._rows)))

    def forget(self) -> None:
        """A batch failed half way: its sessions may hold answers that were not written."""
        self._rows.clear()
        self._quiet.clear()
