"""Projects, their keys and secrets: the identity every protocol authenticates against."""

from .audit import AuditPage, AuditStore
from .models import (
    DEFAULT_FALLBACK,
    AdminRole,
    AdminToken,
    AuditEntry,
    Project,
    RobotCredential,
    RobotToken,
)
from .store import (
    IdentityError,
    NewProject,
    ProjectExists,
    ProjectLookup,
    ProjectStore,
    UnknownProject,
)
from .tokens import NewAdminToken, TokenExists, TokenStore

__all__ = [
    "DEFAULT_FALLBACK",
    "AdminRole",
    "AdminToken",
    "AuditEntry",
    "AuditPage",
    "AuditStore",
    "IdentityError",
    "NewAdminToken",
    "NewProject",
    "Project",
    "ProjectExists",
    "ProjectLookup",
    "ProjectStore",
    "RobotCredential",
    "RobotToken",
    "TokenExists",
    "TokenStore",
    "UnknownProject",
]
