"""Projects, their keys and secrets: the identity every protocol authenticates against."""

from .models import DEFAULT_FALLBACK, Project
from .store import IdentityError, NewProject, ProjectExists, ProjectStore, UnknownProject

__all__ = [
    "DEFAULT_FALLBACK",
    "IdentityError",
    "NewProject",
    "Project",
    "ProjectExists",
    "ProjectStore",
    "UnknownProject",
]
