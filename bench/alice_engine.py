# ruff: noqa: E501  (the printed tables read better on one line)
"""ALICE in process: python-aiml against the dialog's engine, without a stack around them.

The same questions as bench/big_brain.py, in one session whose state is carried from answer to
answer, timed with `time.process_time` over `--rounds` rounds (best of `--best`), per answer:

- python-aiml: `Kernel.respond` of a kernel that `learn`ed ALICE's files (its session in it);
- aiml_kernel: `answer` of the shared kernel the dialog builds (state in, state out);
- chain: what `TurnApp._answer` times (`heard`, `Question`, `respond` of the default chain,
  the fallback when nothing answered, `spoken`).

Back to back, an answer finds the kernel in the CPU's caches; in the dialog it does not (a turn's
database and NATS work, and other processes, ran since the last one). `--cold` and `--paced`
time the three that way too: python-aiml's own answer takes 2.5-4x as long then.

And the load: python-aiml's `learn` of the files against the dialog's compile (parse and
check, `compile_files`) and build of the brain (`build_brain`), each in a fresh process state
(`--load` only: the probe then also reports it).

    PYTHONPATH=$PWD .venv/bin/python bench/alice_engine.py [--rounds 200] [--best 3] [--cold 20]
        [--paced 2.5] [--load] [--profile chain]
"""

import argparse
import asyncio
import cProfile
import gc
import pstats
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiml

from services.dialog.engines.aiml import compile_files, heard
from services.dialog.engines.aiml_kernel import answer
from services.dialog.engines.brain import Brain, Kernels, build_brain, files_key
from services.dialog.engines.chain import PENDING, Question, Said, respond, spoken
from shared.contracts import BotContent
from shared.contracts.content import AimlFile

ALICE = Path(aiml.__file__).parent / "botdata" / "alice"
QUESTIONS = [
    "hello",
    "what is your name",
    "who are you",
    "do you like movies",
    "what is ai",
    "tell me a joke",
    "how old are you",
    "where are you",
    "what is the meaning of life",
    "are you a robot",
    "what can you do",
    "i like pizza",
]  # fmt: skip (bench/big_brain.py's)
FALLBACK = "Sorry, I did not get that."
NOW = datetime.now(UTC)


def alice_files() -> list[AimlFile]:
    return [
        AimlFile(name=path.name, text=path.read_text("utf-8"))
        for path in sorted(ALICE.glob("*.aiml"))
    ]


def learned() -> tuple[aiml.Kernel, float]:
    """python-aiml's kernel of ALICE and the seconds its `learn` took."""
    kernel = aiml.Kernel()
    kernel.verbose(False)
    started = time.perf_counter()
    for path in sorted(ALICE.glob("*.aiml")):
        kernel.learn(str(path))
    return kernel, time.perf_counter() - started


def built(files: list[AimlFile]) -> tuple[Brain, float, float]:
    """The dialog's brain of `files` (as an upload builds it), and the seconds its compile and
    its build took."""
    started = time.perf_counter()
    compiled, _counts = compile_files(files)
    compile_s = time.perf_counter() - started
    content = BotContent(version=1, aiml="", maps="", sets="", properties="name:ALICE")
    started = time.perf_counter()
    brain = build_brain(
        content, compiled, key=files_key([f.name for f in files]), kernels=Kernels()
    )
    return brain, compile_s, time.perf_counter() - started


def per_answer(runs: dict[str, Callable[[], None]], rounds: int, best: int) -> dict[str, float]:
    """Milliseconds of CPU per answer of each of `runs` (each answers every question once per
    round): the best of `best` tries, the runs taking turns so that a busy machine slows them
    alike."""
    took = dict.fromkeys(runs, float("inf"))
    for _ in range(best):
        for name, run in runs.items():
            started = time.process_time()
            for _ in range(rounds):
                run()
            took[name] = min(took[name], time.process_time() - started)
    return {name: s / rounds / len(QUESTIONS) * 1000 for name, s in took.items()}


def cold_p50(
    answers: dict[str, Callable[[str], None]], rounds: int, *, pause_s: float = 0.0
) -> dict[str, float]:
    """Median milliseconds per answer of each of `answers` when, as in a service, something
    else happened between two answers: other work (it walks some MiB of other objects, so
    the caches hold little of the kernel's; CPU time), or with `pause_s` a pause as long as a
    socket's turn (wall time: other processes run meanwhile). The answerers take turns,
    question by question."""
    other = [] if pause_s else [{n: str(n)} for n in range(100_000)]
    clock = time.perf_counter if pause_s else time.process_time
    took: dict[str, list[float]] = {name: [] for name in answers}
    for _ in range(rounds):
        for text in QUESTIONS:
            for name, ask in answers.items():
                if pause_s:
                    time.sleep(pause_s)
                for item in other:
                    item.get(0)
                started = clock()
                ask(text)
                took[name].append(clock() - started)
    return {name: statistics.median(times) * 1000 for name, times in took.items()}


def python_aiml_answer(kernel: aiml.Kernel) -> Callable[[str], None]:
    def ask(text: str) -> None:
        kernel.respond(text, "bench")

    return ask


def kernel_answer(brain: Brain) -> Callable[[str], None]:
    state: dict[str, Any] = {}

    def ask(text: str) -> None:
        nonlocal state
        said = answer(
            brain.kernel, text=text, state=state, session_id="big", properties=brain.properties
        )
        state = said.state

    return ask


async def _chain_answer(brain: Brain, text: str, state: dict[str, Any]) -> Said:
    """TurnApp._answer's timed part, for a text turn."""
    text, state = heard(text=text, image=None, file=None, state=state)
    question = Question(
        text=text,
        lang="en",
        skill=None,
        now=NOW,  # the turn's time, which TurnApp has
        session_id="big",
        image=False,
        event="text",
        file=None,
        variables={},
        payload=None,
        stage="test",
    )
    found = await respond(brain, question, state)
    if found is None:
        found = Said(FALLBACK, "fallback", {k: v for k, v in state.items() if k != PENDING})
    return spoken(brain, found)


def chain_answer(brain: Brain) -> Callable[[str], None]:
    """One answer through the chain, its coroutine run to its end here (an AIML-only chain
    never waits: no event loop's turn is counted, as TurnApp awaits it in its own task)."""
    state: dict[str, Any] = {}

    def ask(text: str) -> None:
        nonlocal state
        try:
            _chain_answer(brain, text, state).send(None)
        except StopIteration as done:
            state = done.value.state
        else:
            raise RuntimeError("the chain waited for something")

    return ask


def rounds_of(ask: Callable[[str], None]) -> Callable[[], None]:
    def run() -> None:
        for text in QUESTIONS:
            ask(text)

    return run


def chain_round(brain: Brain) -> Callable[[], None]:
    """Every question through the chain in one task (as the dialog's loop runs a batch)."""
    state: dict[str, Any] = {}
    loop = asyncio.new_event_loop()

    async def answers() -> None:
        nonlocal state
        for text in QUESTIONS:
            said = await _chain_answer(brain, text, state)
            state = said.state

    def run() -> None:
        loop.run_until_complete(answers())

    return run


def profile(run: Callable[[], None], rounds: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        run()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="rounds of every question")
    parser.add_argument("--best", type=int, default=3, help="tries, the best counts")
    parser.add_argument("--cold", type=int, default=0, help="rounds with other work between")
    parser.add_argument("--paced", type=float, default=0, help="ms pause between answers")
    parser.add_argument("--load", action="store_true", help="time the loads too")
    parser.add_argument("--profile", choices=["python-aiml", "kernel", "chain", "build"])
    args = parser.parse_args()
    files = alice_files()
    if args.profile == "build":
        compiled, _ = compile_files(files)
        content = BotContent(version=1, aiml="", maps="", sets="", properties="")
        cProfile.runctx(
            "build_brain(content, compiled, key='k', kernels=Kernels())",
            globals(),
            {"content": content, "compiled": compiled},
            sort="tottime",
        )
        return
    kernel, learn_s = learned()
    brain, compile_s, build_s = built(files)
    gc.freeze()  # as the dialog does once a kernel is built (keep_out_of_gc)
    asks = {
        "python-aiml": python_aiml_answer(kernel),
        "kernel": kernel_answer(brain),
        "chain": chain_answer(brain),
    }
    runs = {
        "python-aiml": rounds_of(asks["python-aiml"]),
        "kernel": rounds_of(asks["kernel"]),
        "chain": chain_round(brain),
    }
    if args.profile:
        profile(runs[args.profile], args.rounds)
        return
    took = per_answer(runs, args.rounds, args.best)
    print(
        f"ALICE per answer, CPU ms (best of {args.best}, {args.rounds} rounds of {len(QUESTIONS)})"
    )
    base = took["python-aiml"]
    for name, ms in took.items():
        print(f"  {name:<12} {ms:8.4f} ms  {ms / base:5.2f}x")
    if args.cold:
        cold = cold_p50(asks, args.cold)
        print(f"ALICE per answer, other work between answers, CPU ms p50 ({args.cold} rounds)")
        for name, ms in cold.items():
            print(f"  {name:<12} {ms:8.4f} ms  {ms / cold['python-aiml']:5.2f}x")
    if args.paced:
        paced = cold_p50(asks, 25, pause_s=args.paced / 1000)
        print(f"ALICE per answer, {args.paced} ms pause between answers, wall ms p50 (25 rounds)")
        for name, ms in paced.items():
            print(f"  {name:<12} {ms:8.4f} ms  {ms / paced['python-aiml']:5.2f}x")
    if args.load:
        print("ALICE load, s (wall)")
        print(f"  python-aiml learn   {learn_s:6.2f}")
        print(f"  dialog compile      {compile_s:6.2f}  (parse and check)")
        print(f"  dialog build        {build_s:6.2f}  (kernel from the compiled categories)")
        print(
            f"  dialog total        {compile_s + build_s:6.2f}  {(compile_s + build_s) / learn_s:5.2f}x"
        )


if __name__ == "__main__":
    main()
