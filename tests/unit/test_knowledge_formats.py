"""Reading and writing the FAQ and intents files people upload."""

import pytest

from services.gateway.admin.formats.knowledge import (
    FormatError,
    as_yaml,
    faq_csv,
    read_faq,
    read_intents,
)

pytestmark = pytest.mark.unit

CSV = (
    "\ufeffgid,question,answer,labels,skillname\n"
    "7,Where do I park?,Behind the building.,parking|cars,faq_business\n"
    "7,Is there a car park?,,,\n"
    '8,"Opening hours, please",9 to 6,,\n'
)
INTENTS = """\
entities:
  - name: drink
    values: [{value: coffee, synonyms: [latte]}]
intents:
  - name: Order
    sentences: ["a {drink} please"]
    slots: [{name: drink, entity: drink, prompt: "Which drink?"}]
    response: One {drink}.
"""


def test_csv_rows_become_groups_in_order_with_labels() -> None:
    """Rows sharing a gid are one group; group fields come from the row that has them; an
    Excel byte-order mark and quoted commas are read as people expect."""
    faq = read_faq(CSV.encode(), "text/csv; charset=utf-8")
    first, second = faq.groups
    assert first.questions == ["Where do I park?", "Is there a car park?"]
    assert (first.answer, first.labels, first.skillname) == (
        "Behind the building.",
        ["parking", "cars"],
        "faq_business",
    )
    assert (second.gid, second.questions, second.skillname) == (
        "8",
        ["Opening hours, please"],
        "faq",
    )


def test_csv_and_yaml_round_trip() -> None:
    """What is exported reads back to the same content."""
    faq = read_faq(CSV.encode(), "text/csv")
    assert read_faq(faq_csv(faq).encode(), "text/csv") == faq
    intents = read_intents(INTENTS.encode(), "application/yaml")
    assert read_intents(as_yaml(intents).encode(), "application/yaml") == intents


def test_json_faq_may_be_the_bare_list() -> None:
    """`[...]` is read as `{"groups": [...]}`."""
    body = b'[{"gid": "1", "questions": ["hi"], "answer": "hello"}]'
    assert read_faq(body, "application/json").groups[0].answer == "hello"


@pytest.mark.parametrize(
    ("body", "content_type", "where", "says"),
    [
        (b"gid,question\n1,hi\n", "text/csv", {"line": 1}, "lacks answer"),
        (b"gid,question,answer\n1,a,x\n1,b,y\n", "text/csv", {"line": 3}, "answer differs"),
        (b"gid,question,answer\n1,,x\n", "text/csv", {"line": 2}, "at least 1 item"),
        (b'{"groups": [', "application/json", {"line": 1}, "not valid JSON"),
        (b"\xff\xfe", "application/json", {}, "not UTF-8"),
    ],
)
def test_faq_problems_say_where(
    body: bytes, content_type: str, where: dict[str, int], says: str
) -> None:
    """Each refusal names the CSV line (or JSON line) and what is wrong."""
    with pytest.raises(FormatError) as refused:
        read_faq(body, content_type)
    problem = refused.value.problems[0]
    assert where.items() <= problem.items() and says in problem["message"], problem


def test_yaml_problems_carry_the_line_of_the_item() -> None:
    """A bad slot reference points at the intent's line; broken YAML at its own line."""
    with pytest.raises(FormatError) as refused:
        read_intents(INTENTS.replace("a {drink}", "a {drnk}").encode(), "application/yaml")
    assert refused.value.problems[0]["line"] == 5
    assert "{drnk}" in str(refused.value)
    with pytest.raises(FormatError) as broken:
        read_intents(b"intents:\n  - name: [unclosed\n", "application/yaml")
    assert broken.value.problems[0]["line"] == 3


def test_yaml_aliases_are_refused_before_they_expand() -> None:
    """Anchors and aliases (a 'billion laughs' bomb is made of them) are not accepted."""
    bomb = b"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    with pytest.raises(FormatError, match="aliases"):
        read_intents(bomb, "application/yaml")


@pytest.mark.parametrize(
    ("body", "content_type", "why"),
    [
        ("[" * 100_000, "application/json", "nested too deeply"),
        ("[" * 100_000, "application/yaml", "nested too deeply"),
        ('{"intents": ' + "9" * 5000 + "}", "application/json", "a number too long"),
        ("intents: " + "9" * 5000, "application/yaml", "a number too long"),
    ],
    ids=["deep JSON", "deep YAML", "JSON 5,000 digits", "YAML 5,000 digits"],
)
def test_unreadable_documents_are_problems_not_crashes(
    body: str, content_type: str, why: str
) -> None:
    """A document nested past the stack or holding a 5,000-digit number is a format problem
    (the admin API's 422), not an unhandled error (it was a 500)."""
    with pytest.raises(FormatError) as refused:
        read_intents(body.encode(), content_type)
    assert why in str(refused.value.problems)
