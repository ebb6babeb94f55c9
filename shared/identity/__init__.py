"""Projects, their keys and secrets: the identity every protocol authenticates against."""

from .models import DEFAULT_FALLBACK, AdminToken, Project, RobotCredential, RobotToken
from .store import IdentityError, NewProject, ProjectExists, ProjectStore, UnknownProject
from .tokens import NewAdminToken, TokenExists, TokenStore

__all__ = [
    "DEFAULT_FALLBACK",
    "AdminToken",
    "IdentityError",
    "NewAdminToken",
    "NewProject",
    "Project",
    "ProjectExists",
    "ProjectStore",
    "RobotCredential",
    "RobotToken",
    "TokenExists",
    "TokenStore",
    "UnknownProject",
]
