"""The path and query parameters several admin routers share, so each is described once."""

from typing import Annotated

from fastapi import Path, Query

from shared.contracts.content import MAX_VERSION
from shared.contracts.knowledge import Stage

StageQuery = Annotated[Stage, Query(description="Which stage's content")]
VersionQuery = Annotated[
    int | None, Query(ge=1, le=MAX_VERSION, description="This version instead")
]
SessionPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,128}$", description="Session id")]
