"""The demo project `make run` creates on first start, and its key file."""

from pathlib import Path
from uuid import UUID

from shared.identity import ProjectStore, UnknownProject

DEMO_NAME = "demo"
DEMO_AIML = """\
<category><pattern>HI</pattern><template>Hello! I am the Switchboard demo bot.</template></category>
<category><pattern>HELLO</pattern><template><srai>HI</srai></template></category>
<category><pattern>MY NAME IS *</pattern><template><think><set name="name"><star/></set></think>Nice to meet you, <get name="name"/>.</template></category>
<category><pattern>WHAT IS MY NAME</pattern><template>Your name is <get name="name"/>.</template></category>"""


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a small env file."""
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


async def ensure_demo_project(store: ProjectStore, env_file: Path) -> tuple[UUID, str, bool]:
    """The demo project's key and secret, creating or re-keying it when needed.

    Only the hash of a secret is stored, so the demo's secret is kept in `env_file` (mode 600)
    for the banner and for scripts. Returns (key, secret, created).
    """
    saved = read_env_file(env_file)
    try:
        project = await store.find(DEMO_NAME)
    except UnknownProject:
        fresh = await store.create(DEMO_NAME, title="Switchboard demo")
        _write(env_file, fresh.project.key, fresh.secret)
        return fresh.project.key, fresh.secret, True
    secret = saved.get("PROJECT_SECRET", "")
    if saved.get("PROJECT_KEY") == str(project.key) and await store.authenticate(
        str(project.key), secret
    ):
        return project.key, secret, False
    rotated = await store.rotate_secret(str(project.key))
    _write(env_file, project.key, rotated.secret)
    return project.key, rotated.secret, False


def _write(path: Path, key: UUID, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"PROJECT_KEY={key}\nPROJECT_SECRET={secret}\n")
    path.chmod(0o600)
