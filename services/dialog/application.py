"""The dialog's application: the use cases of its rooms over one set of stores, sharing this
process's brains and project cache. Each room holds its own: turns/application.py (answer
turns), sessions/application.py (the sessions the protocols open and delete),
content/application.py (save, publish and restore bot content)."""

from uuid import UUID

from shared.identity import DEFAULT_FALLBACK, ProjectStore

from .content.application import ContentApp
from .content.files import ContentFiles
from .content.port import Content
from .content.project_cache import ProjectCache
from .engines.brain import Brains
from .sessions.application import SessionApp
from .sessions.store import Sessions
from .turns.application import TurnApp
from .turns.store import TurnBatches


class DialogApp(TurnApp, SessionApp, ContentApp):
    """Answers turns from each project's content (the chain of AIML, FAQ, NLU, ...), keeps the
    sessions the protocols open and saves bot content, with state in Postgres."""

    def __init__(
        self,
        *,
        content: Content,
        turns: TurnBatches,
        sessions: Sessions,
        projects: ProjectStore,
        reset_repeat_s: float = 3.0,
        cache_s: float = 60.0,
    ) -> None:
        self.reset_repeat_s = reset_repeat_s
        self.content = content
        self.turns = turns
        self.sessions = sessions
        self.projects = projects
        self.brains = Brains()
        self.files = ContentFiles(content, self.brains)
        self.cache = ProjectCache(
            version=turns.content_version, fallback=self._read_fallback, keep_s=cache_s
        )

    async def _read_fallback(self, project: UUID) -> str:
        found = await self.projects.get(project)
        return found.fallback if found and found.fallback else DEFAULT_FALLBACK
