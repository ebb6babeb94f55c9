"""The demo project `make run` creates on first start, and its key file."""

import json
from pathlib import Path
from uuid import UUID

import yaml

from shared.contracts.knowledge import Faq, Intents
from shared.contracts.machine import StateMachine
from shared.identity import ProjectStore, TokenStore, UnknownProject

DEMO_NAME = "demo"
DEMO_ADMIN = "demo-admin"
DEMO_AIML = """\
<category><pattern>HI</pattern><template>Hello! I am the Switchboard demo bot.</template></category>
<category><pattern>HELLO</pattern><template><srai>HI</srai></template></category>
<category><pattern>MY NAME IS *</pattern><template><think><set name="name"><star/></set></think>Nice to meet you, <get name="name"/>.</template></category>
<category><pattern>WHAT IS MY NAME</pattern><template>Your name is <get name="name"/>.</template></category>
<category><pattern>XIMAGE</pattern><template>Thanks for the picture!</template></category>"""


EVAL_DIR = Path(__file__).resolve().parents[2] / "eval"


def demo_knowledge() -> tuple[Faq, Intents]:
    """The evaluation set's FAQ and intents (a shop/hospital reception bot), as demo content."""
    faq = Faq.model_validate(json.loads((EVAL_DIR / "faq.json").read_text()))
    intents = Intents.model_validate(yaml.safe_load((EVAL_DIR / "intents.yaml").read_text()))
    return faq, intents


def demo_machine() -> StateMachine:
    """The demo's state machine: it greets BESSER sockets and shows every reply kind."""
    text = (Path(__file__).parent / "demo_machine.yaml").read_text(encoding="utf-8")
    return StateMachine.parse(yaml.safe_load(text))


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
        _write(env_file, PROJECT_KEY=str(fresh.project.key), PROJECT_SECRET=fresh.secret)
        return fresh.project.key, fresh.secret, True
    secret = saved.get("PROJECT_SECRET", "")
    if saved.get("PROJECT_KEY") == str(project.key) and await store.authenticate(
        str(project.key), secret
    ):
        return project.key, secret, False
    rotated = await store.rotate_secret(str(project.key))
    _write(env_file, PROJECT_KEY=str(project.key), PROJECT_SECRET=rotated.secret)
    return project.key, rotated.secret, False


async def ensure_demo_admin_token(tokens: TokenStore, env_file: Path) -> str:
    """An admin token for the local stack, kept in `env_file` like the demo secret."""
    saved = read_env_file(env_file).get("ADMIN_TOKEN", "")
    if saved and await tokens.admin(saved) is not None:
        return saved
    made = await tokens.create_admin(DEMO_ADMIN, projects=None, replace=True)
    _write(env_file, ADMIN_TOKEN=made.secret)
    return made.secret


def _write(path: Path, **values: str) -> None:
    """Set `values` in the env file, keeping its other lines; only the owner may read it."""
    merged = {**read_env_file(path), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in merged.items()))
    path.chmod(0o600)
