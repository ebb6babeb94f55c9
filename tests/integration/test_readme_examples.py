"""The README's examples run as written, in order, against a fresh `make run`.

Every `sh`, `python` and `js` block of README.md is marked on the line before it:
`<!-- example: run -->` (run here) or `<!-- example: not run: <why> -->`. The runnable blocks run
in README order, as a new user would run them from a second terminal in the checkout:

- `sh` blocks go, command by command, to one bash shell (so the variables a block sets are there
  for the next, like in a terminal), whose PATH has no virtualenv in it;
- `python` blocks run with `.venv/bin/python`, `js` blocks with `node` and the phoenix client of
  tests/js, both with the variables that shell exported.

What a block must print is in its comments: `# → <pattern>` (`// →` in JS), where `…` stands
for anything and the pattern ends at ` — ` (prose follows). A shell command's whole output must
match its pattern (no pattern: no output), and exit 0. Python and JS blocks print one line per
pattern, in order. Whitespace is ignored when comparing (curl prints compact JSON, Python spaced).
The only change made to a block is the port: the stack runs on free ports instead of 8003/8765.
"""

import base64
import os
import queue
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest

from shared.devstack.embedded import free_port

from . import make_run

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
MARK = re.compile(r"^<!-- example: (run|not run: .+) -->$")
COMMANDS = {"sh", "python", "js"}
ARROW = re.compile(r"(?:#|//)\s*→\s*(.*)$")
PROSE = re.compile(r"\s+—\s.*$")
WAIT_S = 30


@dataclass(frozen=True)
class Block:
    """One fenced block of the README."""

    line: int  # of its opening fence, 1-based
    info: str
    code: str
    mark: str | None  # "run", "not run: …", or None


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block, with the example mark of the line before it."""
    blocks: list[Block] = []
    lines = text.splitlines()
    n = 0
    while n < len(lines):
        if lines[n].startswith("```"):
            start, info = n, lines[n][3:].strip()
            n += 1
            while not lines[n].startswith("```"):
                n += 1
            above = lines[start - 1].strip() if start else ""
            found = MARK.match(above)
            code = "\n".join(lines[start + 1 : n]) + "\n"
            blocks.append(Block(start + 1, info, code, found.group(1) if found else None))
        n += 1
    return blocks


def pattern_of(line: str) -> str | None:
    """The `→` pattern of a line's comment, without the prose after ` — `."""
    found = ARROW.search(line)
    return PROSE.sub("", found.group(1)).strip() if found else None


def matches(pattern: str, output: str) -> bool:
    """`output` is what `pattern` says, `…` standing for anything, whitespace ignored."""
    squeeze = re.compile(r"\s+")
    parts = squeeze.sub("", pattern).split("…")
    return re.fullmatch(".*".join(map(re.escape, parts)), squeeze.sub("", output), re.S) is not None


def shell_commands(code: str) -> Iterator[tuple[str, str | None]]:
    """A shell block's commands (continuation lines joined) and each one's pattern."""
    pending: list[str] = []
    for line in code.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending.append(line)
        if line.endswith("\\"):
            continue
        yield "\n".join(pending), pattern_of(pending[-1])
        pending = []


class Shell:
    """One bash process fed command by command, like a terminal."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)  # bash ended (a syntax error ends a non-interactive shell)

    def run(self, command: str) -> tuple[int, str]:
        """Exit status and output (stdout and stderr) of one command."""
        mark = uuid4().hex
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{command}\nprintf '\\n{mark} %d\\n' $?\n")
        self.proc.stdin.flush()
        out: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=WAIT_S)
            except queue.Empty:
                pytest.fail(f"no end after {WAIT_S} s of:\n{command}\noutput:\n{''.join(out)}")
            if line is None:
                pytest.fail(f"the shell ended at:\n{command}\noutput:\n{''.join(out)}")
            if line.startswith(mark):
                return int(line.split()[1]), "".join(out).rstrip("\n")
            out.append(line)

    def exported(self) -> dict[str, str]:
        """The environment the shell hands to the programs it starts."""
        _, out = self.run("env -0 | base64 -w0")
        pairs = base64.b64decode(out).decode().split("\0")
        return dict(pair.split("=", 1) for pair in pairs if "=" in pair)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def new_user_env() -> dict[str, str]:
    """A terminal in the checkout: no virtualenv on PATH, no stack settings, nothing exported."""
    venv_bin = str(Path(sys.executable).parent)
    drop = {"NATS_URL", "DATABASE_URL", "SWITCHBOARD_DATA", "VIRTUAL_ENV", "PYTHONHOME"}
    drop |= {"PROJECT_KEY", "PROJECT_SECRET", "ADMIN_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    path = os.environ.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in path if p and p != venv_bin and "/.venv/" not in p)
    # In a fresh clone .venv's editable install is this checkout; in a git worktree that
    # shares another checkout's .venv it is not, so point Python at the code under test.
    env["PYTHONPATH"] = str(ROOT)
    # What `npm install phoenix ws` next to the script would give.
    env["NODE_PATH"] = str(ROOT / "tests" / "js" / "node_modules")
    return env


def _where(block: Block) -> str:
    return f"README.md line {block.line} ({block.info})"


def check_shell_block(shell: Shell, block: Block, code: str) -> None:
    for command, pattern in shell_commands(code):
        status, out = shell.run(command)
        assert status == 0, f"{_where(block)}: exit {status} from\n{command}\n{out}"
        if pattern is None:
            assert out == "", f"{_where(block)}: printed what no comment says:\n{command}\n{out}"
        else:
            assert matches(pattern, out), (
                f"{_where(block)}:\n{command}\nprinted\n{out}\nnot what its comment says:\n{pattern}"
            )


def check_program_block(block: Block, code: str, cwd: Path, env: dict[str, str]) -> None:
    script = cwd / f"readme-{block.line}.{'py' if block.info == 'python' else 'js'}"
    script.write_text(code)
    program = [str(cwd / ".venv" / "bin" / "python")] if block.info == "python" else ["node"]
    done = subprocess.run(
        [*program, script.name], cwd=cwd, env=env, capture_output=True, text=True, timeout=WAIT_S
    )
    assert done.returncode == 0, f"{_where(block)}: exit {done.returncode}\n{done.stderr}"
    patterns = [p for p in map(pattern_of, code.splitlines()) if p is not None]
    printed = done.stdout.splitlines()
    assert len(printed) == len(patterns), (
        f"{_where(block)}: {len(printed)} lines printed, {len(patterns)} in the comments:\n"
        + done.stdout
    )
    for pattern, line in zip(patterns, printed, strict=True):
        assert matches(pattern, line), (
            f"{_where(block)}: printed\n{line}\nnot what its comment says:\n{pattern}"
        )


def test_every_command_block_of_the_readme_says_whether_it_runs() -> None:
    """Each sh/python/js block of the README is marked as run by this test or not run (why)."""
    blocks = [b for b in readme_blocks(README.read_text()) if b.info in COMMANDS]
    unmarked = [f"line {b.line}" for b in blocks if b.mark is None]
    assert unmarked == [], f"README blocks with no <!-- example: … --> mark: {unmarked}"
    assert {b.info for b in blocks if b.mark == "run"} == COMMANDS


def test_the_readme_example_files_are_what_it_says() -> None:
    """examples/faq.csv is the README's CSV, examples/pizza_machine.yaml one of its YAML blocks,
    and examples/aiml.zip holds examples/aiml/*.aiml."""
    csvs = [b.code for b in readme_blocks(README.read_text()) if b.info == "csv"]
    assert (EXAMPLES / "faq.csv").read_text() in csvs
    yamls = [b.code for b in readme_blocks(README.read_text()) if b.info == "yaml"]
    assert (EXAMPLES / "pizza_machine.yaml").read_text() in yamls
    with zipfile.ZipFile(EXAMPLES / "aiml.zip") as archive:
        zipped = {name: archive.read(name) for name in archive.namelist()}
    assert zipped == {p.name: p.read_bytes() for p in (EXAMPLES / "aiml").glob("*.aiml")}


@pytest.mark.timeout(240)  # about 30 s alone, about 65 s beside a busy suite on 2 CPUs
def test_the_readme_examples_run_as_written_against_make_run(tmp_path: Path) -> None:
    """On a fresh `make run`, the banner's "Try it" line and then every README block marked to
    run, in order, succeed and print what their comments say."""
    checkout = (
        tmp_path / "c"
    )  # the user's checkout (short: Postgres puts its socket in it): .venv, examples/, and make run's .data
    checkout.mkdir()
    (checkout / ".venv").symlink_to(ROOT / ".venv")
    (checkout / "examples").symlink_to(EXAMPLES)
    data, log = checkout / ".data", tmp_path / "run.log"
    names = ("NATS_PORT", "DIALOG_PORT", "SCHEDULE_PORT", "TELEMETRY_PORT", "MEDIA_PORT")
    ports = {name: str(free_port()) for name in (*names, "GATEWAY_PORT", "GATEWAY_BESSER_PORT")}
    gateway, besser = ports["GATEWAY_PORT"], ports["GATEWAY_BESSER_PORT"]
    blocks = [b for b in readme_blocks(README.read_text()) if b.mark == "run"]

    proc = make_run.start(data, ports, log)
    shell = Shell(checkout, new_user_env())
    try:
        banner = log.read_text()
        try_it = banner[banner.index("Try it:") + len("Try it:") : banner.index("Press Ctrl-C")]
        status, out = shell.run(try_it.strip())
        assert status == 0, f"the banner's Try it line failed:\n{try_it}\n{out}"
        assert out == '{"message": {"bot_response": "Hello! I am the Switchboard demo bot."}}'

        for block in blocks:
            code = block.code.replace("127.0.0.1:8003", f"127.0.0.1:{gateway}")
            code = code.replace("127.0.0.1:8765", f"127.0.0.1:{besser}")
            if block.info == "sh":
                check_shell_block(shell, block, code)
            else:
                check_program_block(block, code, checkout, shell.exported())
    except AssertionError as err:
        raise AssertionError(
            f"{err}\n--- make run's log, last lines:\n{log.read_text()[-3000:]}"
        ) from None
    finally:
        shell.close()
        make_run.stop(proc, data)
