"""XPARO's commands about the project and its bot: `initialize_api` (the project document with
its AIML), `xparo_sync_config` (the robot's config) and `save_aiml` (a new content version)."""

from typing import Any
from uuid import uuid4

from pydantic import TypeAdapter

from shared import subjects
from shared.contracts import BotContent, BotContentSaved, GetBotContent, SaveBotContent, SaveReply
from shared.identity import Project

from ...bus.bridge import Bridge
from .refusals import CommandError
from .robot_client import check_names, content_fields

SAVE_REPLY: TypeAdapter[Any] = TypeAdapter(SaveReply)
CONTENT: TypeAdapter[BotContent] = TypeAdapter(BotContent)


async def initialize_api(bridge: Bridge, project: Project) -> dict[str, Any]:
    content = await bot_content(bridge, project)
    p = project
    return {
        "status": True,
        "title": p.title,
        "disc": p.description,
        "goal": p.goal,
        "rules": p.rules,
        "api_key": f"{p.secret_prefix}…",
        "aiml": content.aiml,
        "maps": content.maps,
        "Sets": content.sets,
        "properties": content.properties,
        "System": p.system,
    }


def sync_config(project: Project) -> dict[str, Any]:
    p = project
    config = {"xparo_name": p.title or p.name, "title": p.title, "goal": p.goal, **p.settings}
    return {"change_config": config}


async def save_aiml(bridge: Bridge, project: Project, value: Any) -> dict[str, Any]:
    check_names(value)  # the robot shape names custom_aiml/custom_maps files
    fields = content_fields(value)
    command = SaveBotContent(project_key=project.key, correlation_id=uuid4(), **fields)
    reply = await bridge.ask(subjects.dialog_content_save(project.key), command, SAVE_REPLY)
    if not isinstance(reply, BotContentSaved):
        first = reply.problems[0]
        raise CommandError(
            f"invalid AIML at line {first.line}, column {first.column}: {first.message}",
            problems=[p.model_dump() for p in reply.problems],
        )
    return {"save_aiml": {"status": True, "version": reply.version, "categories": reply.categories}}


async def bot_content(bridge: Bridge, project: Project) -> BotContent:
    query = GetBotContent(project_key=project.key)
    return await bridge.ask(subjects.dialog_content_get(project.key), query, CONTENT)
