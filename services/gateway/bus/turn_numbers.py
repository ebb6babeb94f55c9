"""The chat sessions one socket speaks for: turn numbering, reply interest, reply dedupe."""

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from shared.contracts import ChatReply, TurnReceived
from shared.contracts.chat import Protocol
from shared.identity import Project

from . import resume
from .bridge import Bridge, BridgeError
from .reply_routing import Follow

log = logging.getLogger(__name__)
SEEN_REPLIES = 256
OnReply = Callable[[ChatReply], Awaitable[None]]


class TurnNumbers:
    """Numbers one socket's turns per session (a channel id and a counter for each session),
    which the dialog service uses to answer that socket's turns in the order they were sent."""

    def __init__(self, *, project: UUID, protocol: Protocol) -> None:
        self._project = project
        self._protocol = protocol
        self._channels: dict[str, tuple[str, int]] = {}

    def next(self, session: str, text: str, **fields: Any) -> TurnReceived:
        """The next turn of `session` (not counted until `taken`); `fields` are the other
        TurnReceived fields (image, event, file, stage...)."""
        channel, seq = self._channels.get(session) or (uuid4().hex, 0)
        return TurnReceived.first(
            project_key=self._project,
            session_id=session,
            protocol=self._protocol,
            text=text,
            channel=channel,
            seq=seq + 1,
            **fields,
        )

    def taken(self, turn: TurnReceived) -> None:
        """`turn` was accepted by JetStream: the next one follows it."""
        self._channels[turn.session_id] = (turn.channel, turn.seq)


class Conversations:
    """Publishes a socket's turns in order (TurnNumbers) and hands it each reply once
    (answers, and what the bot says first: an operator, a schedule).

    When the gateway stops, it leaves a resume mark per session (resume.py); when a session is
    followed again, on any replica, the replies the stopped gateway did not deliver are replayed
    first and live replies wait behind them.
    """

    def __init__(
        self, bridge: Bridge, *, project: Project, protocol: Protocol, on_reply: OnReply
    ) -> None:
        self._bridge = bridge
        self._project = project
        self._numbers = TurnNumbers(project=project.key, protocol=protocol)
        self._on_reply = on_reply
        self._follows: dict[str, Follow] = {}
        self._followed_at: dict[str, datetime] = {}
        self._seen: OrderedDict[object, None] = OrderedDict()
        self._waiting: dict[str, list[ChatReply]] = {}  # live replies held behind a replay
        self._suspended = False

    async def follow(self, session: str) -> None:
        """Take interest in `session`'s replies (before any turn, so none is missed), then
        replay what a stopped gateway left undelivered in it."""
        if session in self._follows:
            return
        try:
            self._bridge.resume.hold(self)
        except resume.Stopping as err:  # answered like any broker trouble: try again
            raise BridgeError(str(err)) from err
        self._waiting[session] = []
        self._followed_at[session] = datetime.now(UTC)
        try:
            self._follows[session] = await self._bridge.follow_replies(
                project=self._project.key, session=session, deliver=self._deliver
            )
            await self._resume(session)
        finally:  # what came live meanwhile, in order (it may still grow while we send)
            waiting = self._waiting[session]
            while waiting:
                await self._deliver_once(waiting.pop(0))
            del self._waiting[session]

    async def _resume(self, session: str) -> None:
        name = resume.key(project=self._project.key, session=session)
        try:
            mark = await self._bridge.resume.take(name)
            if mark is not None:
                count = await self._bridge.resume.replay(
                    project=self._project.key,
                    session=session,
                    mark=mark,
                    deliver=self._deliver_once,
                )
                log.info("session %s resumed: %d replies replayed", session, count)
        except Exception as err:  # resuming is best effort: the session itself works
            log.warning("session %s not resumed: %r", session, err)

    def suspend(self) -> Iterable[tuple[str, resume.Mark]]:
        """Stop delivering (the gateway is stopping) and say where each session stopped."""
        self._suspended = True
        stopped = datetime.now(UTC)
        delivered = [e for e in self._seen if isinstance(e, UUID)]
        return [
            (
                resume.key(project=self._project.key, session=session),
                resume.mark_for(followed_at=at, stopped_at=stopped, delivered=delivered),
            )
            for session, at in self._followed_at.items()
        ]

    def turn(self, session: str, text: str, **fields: Any) -> TurnReceived:
        """The next turn of `session` (not yet published: see `say`)."""
        return self._numbers.next(session, text, **fields)

    async def say(self, turn: TurnReceived) -> None:
        """Publish `turn` (BridgeError when JetStream does not take it; then it never counted)."""
        if turn.session_id not in self._follows:  # followed once, before its first turn
            await self.follow(turn.session_id)
        await self._bridge.publish_turn(turn)
        self._numbers.taken(turn)

    async def close(self) -> None:
        """Drop every reply interest of this socket."""
        self._bridge.resume.release(self)
        follows, self._follows = self._follows, {}
        for subscription in follows.values():
            try:
                await subscription.unsubscribe()
            except Exception as err:  # the connection may be closing already
                log.debug("unsubscribe failed: %r", err)

    async def _deliver(self, reply: ChatReply) -> None:
        waiting = self._waiting.get(reply.session_id)
        if waiting is not None:
            waiting.append(reply)
            return
        await self._deliver_once(reply)

    async def _deliver_once(self, reply: ChatReply) -> None:
        if self._suspended or reply.event_id in self._seen:
            return
        self._seen[reply.event_id] = None
        if len(self._seen) > SEEN_REPLIES:
            self._seen.popitem(last=False)
        await self._on_reply(reply)
