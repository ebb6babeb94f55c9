"""What the admin routes are handed: the stores and the bridge the app was built with, kept on
`app.state.admin` and given to a route as an `Annotated` dependency (as FastAPI's full-stack
template hands out its `SessionDep`), so the routers are plain module-level `APIRouter`s.
"""

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from shared.identity import AuditStore, ProjectStore, TokenStore

from ..bus.bridge import Bridge
from ..bus.dialog_content import DialogContent


@dataclass(frozen=True)
class AdminServices:
    """The app's stores and bridge, as the admin API uses them (`app.state.admin`)."""

    projects: ProjectStore
    tokens: TokenStore
    bridge: Bridge
    audit: AuditStore
    content: DialogContent = field(init=False)  # one per app: it holds the bucket once opened

    def __post_init__(self) -> None:
        object.__setattr__(self, "content", DialogContent(self.bridge))


def services_of(request: Request) -> AdminServices:
    """The admin API's services of the app serving `request`."""
    services: AdminServices = request.app.state.admin
    return services


async def projects_of(request: Request) -> ProjectStore:
    return services_of(request).projects


async def tokens_of(request: Request) -> TokenStore:
    return services_of(request).tokens


async def bridge_of(request: Request) -> Bridge:
    return services_of(request).bridge


async def content_of(request: Request) -> DialogContent:
    return services_of(request).content


async def audit_of(request: Request) -> AuditStore:
    return services_of(request).audit


ProjectsDep = Annotated[ProjectStore, Depends(projects_of)]
TokensDep = Annotated[TokenStore, Depends(tokens_of)]
BridgeDep = Annotated[Bridge, Depends(bridge_of)]
ContentDep = Annotated[DialogContent, Depends(content_of)]
AuditDep = Annotated[AuditStore, Depends(audit_of)]
