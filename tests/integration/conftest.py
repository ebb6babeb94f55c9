"""Fixtures several integration modules share (the session's backends, stacks and projects are
tests/support/plugin.py's). A module's own fixture of the same name takes precedence there."""

import json
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from nats.aio.client import Client as NatsClient

from shared import subjects
from shared.contracts import SaveBotContent
from tests.support.backends import Backends
from tests.support.plugin import TestProject

from .dialog_replicas import Replica, in_process

HELLO_AIML = (
    "<category><pattern>HELLO</pattern><template>Hi there</template></category>"
    "<category><pattern>*</pattern><template>I did not get that</template></category>"
)


@pytest.fixture
async def bot(nc: NatsClient, project: TestProject) -> TestProject:
    """The test project with AIML answering HELLO (aiml) and anything else (aiml too)."""
    command = SaveBotContent(project_key=project.key, aiml=HELLO_AIML, correlation_id=uuid4())
    answer = await nc.request(
        subjects.dialog_content_save(project.key), command.model_dump_json().encode(), timeout=20
    )
    assert json.loads(answer.data)["kind"] == "saved", answer.data
    return project


@pytest.fixture
async def dialog_replicas(backends: Backends) -> AsyncIterator[list[Replica]]:
    """Two dialog replicas' turn paths in process, on the test Postgres."""
    async with in_process(backends.database_url) as made:
        yield made
