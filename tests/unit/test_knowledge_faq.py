"""FAQ retrieval: paraphrase groups ranked by a 0..1 score (an exact paraphrase scores 1), one
candidate per group, Chinese understood whatever lang says, skills, and no input that raises."""

import logging
from collections.abc import Iterator

import pytest

from services.dialog.engines.brain import build_brain
from services.dialog.engines.knowledge import FaqIndex
from shared.contracts.content import BotContent
from shared.contracts.knowledge import Faq, FaqGroup, Intent, Intents, Lang

pytestmark = pytest.mark.unit


def group(gid: str, *questions: str, skill: str = "faq") -> FaqGroup:
    return FaqGroup(gid=gid, questions=list(questions), answer=f"answer {gid}", skillname=skill)


FAQ = Faq(
    groups=[
        group(
            "parking",
            "Where can I park my car?",
            "Is there a car park?",
            "How much does parking cost?",
            skill="reception",
        ),
        group(
            "wifi",
            "Is there free wifi?",
            "What is the wifi password?",
            "How do I connect to the internet?",
            skill="reception",
        ),
        group(
            "returns",
            "How do I return an item?",
            "Can I get a refund?",
            "What is your return policy?",
            skill="shop",
        ),
        group(
            "hours",
            "What are your opening hours?",
            "When do you close?",
            "Are you open on Sundays?",
            skill="shop",
        ),
        group("cn.parking", "停车场在哪里", "停车怎么收费", "有免费停车位吗", skill="reception"),
        group("cn.pharmacy", "药房在哪里", "在哪里取药", "医院里有药店吗", skill="hospital"),
    ]
)


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return FaqIndex(FAQ)


@pytest.mark.parametrize(
    "question",
    ["Where can I park my car?", "where can i park my car", "  WHERE can I park my car!!"],
)
def test_an_exact_paraphrase_scores_1_and_ranks_first(index: FaqIndex, question: str) -> None:
    """A paraphrase, whatever its case, spacing and punctuation, is a perfect match."""
    match = index.search(question, lang="en")
    assert match is not None
    assert (match.gid, match.score) == ("parking", 1.0)
    assert match.candidates[0].question == "Where can I park my car?"
    assert match.candidates[0].answer == "answer parking"
    assert match.skillname == "reception"


def test_other_questions_score_below_1_best_first(index: FaqIndex) -> None:
    """Anything but a paraphrase scores under 1; candidates come best first."""
    match = index.search("where do I park", lang="en")
    assert match is not None
    scores = [c.score for c in match.candidates]
    assert match.gid == "parking"
    assert all(0 < s < 1 for s in scores)
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("question", "gid"),
    [
        ("I came by car, where do I leave it?", "parking"),
        ("what's the password for the wifi network", "wifi"),
        ("I want my money back, can I return these shoes", "returns"),
        ("until what time are you open today", "hours"),
        ("my car needs a parking space", "parking"),
    ],
)
def test_a_question_worded_differently_finds_its_group(
    index: FaqIndex, question: str, gid: str
) -> None:
    """Questions that are no paraphrase still rank the right group first."""
    match = index.search(question, lang="en")
    assert match is not None
    assert match.gid == gid


@pytest.mark.parametrize(
    ("question", "gid"),
    [
        ("我开车来的 车停哪儿", "cn.parking"),
        ("请问取药在哪", "cn.pharmacy"),
        ("停车场在哪里", "cn.parking"),
    ],
)
def test_chinese_questions_are_answered_even_when_lang_says_en(
    index: FaqIndex, question: str, gid: str
) -> None:
    """Chinese is tokenised as Chinese whatever lang the caller sent."""
    langs: tuple[Lang, ...] = ("cn", "en")
    for lang in langs:
        match = index.search(question, lang=lang)
        assert match is not None
        assert match.gid == gid


def test_one_candidate_per_group_with_its_closest_paraphrase(index: FaqIndex) -> None:
    """A group appears once, represented by its paraphrase nearest to the question."""
    match = index.search("how much is the wifi, and is parking free", lang="en")
    assert match is not None
    gids = [c.gid for c in match.candidates]
    assert len(gids) == len(set(gids))
    wifi = next(c for c in match.candidates if c.gid == "wifi")
    assert wifi.question == "Is there free wifi?"


def test_top_limits_the_candidates(index: FaqIndex) -> None:
    """At most `top` candidates come back."""
    match = index.search("where is it", lang="en", top=2)
    assert match is not None
    assert len(match.candidates) <= 2


def test_skill_restricts_the_groups(index: FaqIndex) -> None:
    """With a skill, only groups of that skillname answer."""
    match = index.search("Where can I park my car?", lang="en", skill="shop")
    assert match is None or all(c.skillname == "shop" for c in match.candidates)
    assert match is None or match.gid != "parking"
    assert index.search("Where can I park my car?", lang="en", skill="nobody") is None


def test_an_empty_faq_answers_nothing() -> None:
    """No groups, no match."""
    assert FaqIndex(Faq()).search("Where can I park my car?", lang="en") is None


@pytest.mark.parametrize(
    "question",
    [
        "",
        "   ",
        "🙂🙂🙂",
        "?!...",
        "\x00\x01",
        "x" * 100_000,
        "停" * 50_000,
        "__system_date__",
        "the of",
    ],
)
def test_garbage_never_raises(index: FaqIndex, question: str) -> None:
    """Empty, symbol-only or huge input gives a match or None, never an error."""
    match = index.search(question, lang="en")
    assert match is None or 0 < match.score <= 1
    if not question.strip() or question.startswith(("🙂", "?", "\x00")):
        assert match is None


def test_a_thousand_groups_index_and_answer() -> None:
    """1,000 groups x 5 paraphrases (past the size trained in kernel form: groups score as
    their closest paraphrase) index and answer with their own group (bench/engines.py times
    both)."""
    topics = ["park", "car", "wifi", "refund", "card", "cash", "visit", "pharmacy", "toilet"]
    groups = [
        group(f"g{n}", *(f"where is the {topics[n % 9]} {n} number {p}" for p in range(5)))
        for n in range(1000)
    ]
    index = FaqIndex(Faq(groups=groups))
    found = index.search("where is the refund 12 number 3", lang="en")
    assert found is not None and found.gid == "g12", found


def test_five_hundred_groups_train_and_calibrate() -> None:
    """500 groups x 2 paraphrases (1,000 examples, trained and calibrated on save) get a
    threshold between 0 and 1 and answer a paraphrase with its group (bench/engines.py times
    both)."""
    topics = ["park", "car", "wifi", "refund", "card", "cash", "visit", "pharmacy", "toilet"]
    groups = [
        group(
            f"g{n}",
            f"where is the {topics[n % 9]} number {n}",
            f"how do I find {n} {topics[n % 7]}",
        )
        for n in range(500)
    ]
    index = FaqIndex(Faq(groups=groups))
    assert 0 < index.threshold < 1
    found = index.search("how can I find 40 cash", lang="en")
    assert found is not None and found.gid == "g40", found


class Kept(logging.Handler):
    """Every record that reaches the root's handlers, as a service's log handler gets them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def service_log() -> Iterator[Kept]:
    """A log at INFO set up as setup_logging does it (the root's level, a handler taking all
    that reaches it), put back as it was afterwards."""
    root, kept = logging.getLogger(), Kept()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(kept)
    yield kept
    root.removeHandler(kept)
    root.setLevel(level)


def test_loading_content_logs_nothing_from_bm25s(service_log: Kept) -> None:
    """Loading content with an FAQ and intents writes no bm25s lines to a log at INFO (it
    wrote "Building index from tokens" once per index)."""
    greet = Intent(name="greet", sentences=["hello there", "good morning"], response="Hi!")
    content = BotContent(
        version=1,
        aiml="",
        maps="",
        sets="",
        properties="",
        faq=FAQ,
        intents=Intents(intents=[greet]),
    )
    build_brain(content)
    assert [r.getMessage() for r in service_log.records if r.name.startswith("bm25s")] == []
