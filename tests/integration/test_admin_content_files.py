"""The admin API's bot files end to end (gateway → content bucket → dialog → Postgres): AIML as
one document or a zip (the full ALICE set), dry runs, properties / maps / sets, behaviour trees
and the command that sends one, diffs, and rolling the release back."""

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiml
import httpx
import pytest
from nats.aio.client import Client as NatsClient

from shared import subjects
from tests.support.plugin import Stack, TestProject

from .rsvp import Admin, Rsvp

ALICE = Path(aiml.__file__).parent / "botdata" / "alice"
HI = "<aiml><category><pattern>HI</pattern><template>hello</template></category></aiml>"
PATROL = """<root BTCPP_format="4">
  <BehaviorTree ID="Patrol">
    <Sequence><MoveTo goal="door"/><MoveTo goal="desk"/></Sequence>
  </BehaviorTree>
</root>
"""


def zipped(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def category(pattern: str, template: str) -> str:
    return f"<aiml><category><pattern>{pattern}</pattern><template>{template}</template></category></aiml>"


class Files(Admin):
    """The admin API of one project, with longer waits (a 12 MB AIML set takes seconds)."""

    def put(self, path: str, body: str | bytes, content_type: str, **params: Any) -> httpx.Response:
        headers = {**self.headers, "Content-Type": content_type}
        url = f"{self.base}{path}"
        return httpx.put(url, content=body, headers=headers, params=params, timeout=90)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", headers=self.headers, params=params, timeout=30)

    def delete(self, path: str) -> httpx.Response:
        return httpx.delete(f"{self.base}{path}", headers=self.headers, timeout=10)

    def versions(self) -> list[int]:
        return [v["version"] for v in self.get("/versions").json()["versions"]]


@pytest.fixture
def admin(stack: Stack, project: TestProject, admin_token: str) -> Files:
    return Files(stack, project, admin_token)


@pytest.fixture
def rsvp(stack: Stack, project: TestProject) -> Rsvp:
    return Rsvp(stack, project)


def said(rsvp: Rsvp, question: str, **params: Any) -> str:
    answer: str = rsvp.ask(question, uid=uuid4().hex, **params)["stage"][0]["message"]
    return answer


def test_the_full_alice_set_zipped_loads_answers_and_downloads(admin: Files, rsvp: Rsvp) -> None:
    """python-aiml's ALICE (~98,000 categories, 12 MB, some files ISO-8859-1) loads through a
    zip, answers, and comes back as the same files."""
    sources = {path.name: path.read_bytes() for path in sorted(ALICE.glob("*.aiml"))}
    body = zipped(sources)
    started = time.perf_counter()
    saved = admin.put("/aiml", body, "application/zip")
    print(f"ALICE: {len(sources)} files loaded in {time.perf_counter() - started:.2f} s")
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1 and saved.json()["categories"] > 98_000
    # The replica that did not take the upload builds ALICE's brain on its first turn (about
    # 5 s, more on a busy machine), which can outlast RSVP's 10 s wait: the caller gets RSVP's
    # 504 "try again", and the next ask is answered. (Warming replicas on config.changed is
    # left for the big-brain benchmark issue.)
    query = {"botid": str(rsvp.project.key), "token": rsvp.project.secret, "uid": "alice"}
    for _ in range(3):
        answer = rsvp.raw(**query, q="What is your name?")
        if answer.status_code != 504:
            break
    assert answer.status_code == 200, answer.text
    assert "Nameless" in answer.json()["stage"][0]["message"]  # ALICE picks one of several
    back = admin.get("/aiml")
    assert back.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(back.content)).namelist()
    assert sorted(names) == sorted(sources)
    one = admin.get("/aiml", file="ai.aiml")
    assert one.headers["content-type"].startswith("application/xml")
    declared_latin1 = sources["ai.aiml"].decode("latin-1")  # kept as UTF-8, declared so
    assert one.text == declared_latin1.replace('encoding="ISO-8859-1"', 'encoding="UTF-8"', 1)
    assert admin.get("/aiml", file="nope.aiml").status_code == 404


def test_bad_aiml_in_one_file_of_a_zip_is_reported_with_its_name_and_line(admin: Files) -> None:
    """Every problem names its file, line and column; nothing is stored."""
    broken = "<aiml>\n<category>\n<pattern>X</pattern><template>y</tmplate>\n</category></aiml>"
    body = zipped({"good.aiml": HI.encode(), "bad/broken.aiml": broken.encode()})
    refused = admin.put("/aiml", body, "application/zip")
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["problems"][0]["file"] == "bad/broken.aiml"
    assert problem["problems"][0]["line"] == 3 and problem["problems"][0]["column"] > 1
    assert problem["detail"].startswith("file bad/broken.aiml, line 3, column")
    assert admin.versions() == []


def test_zip_bombs_and_too_many_files_are_refused_and_nothing_is_stored(admin: Files) -> None:
    """A zip inflating past the caps, or holding too many files, is a 413; a broken one 422."""
    bomb = zipped({"bomb.aiml": b"<aiml>" + b" " * (20 * 1024 * 1024) + b"</aiml>"})
    assert len(bomb) < 100_000
    refused = admin.put("/aiml", bomb, "application/zip")
    assert refused.status_code == 413 and refused.json()["problems"][0]["file"] == "bomb.aiml"
    many = zipped({f"f{n}.aiml": HI.encode() for n in range(1001)})
    assert admin.put("/aiml", many, "application/zip").status_code == 413
    assert admin.put("/aiml", b"PK\x03\x04broken", "application/zip").status_code == 422
    escaping = zipped({"../../etc/cron.aiml": HI.encode()})
    assert admin.put("/aiml", escaping, "application/zip").status_code == 422
    assert admin.versions() == []


def test_a_dry_run_checks_and_stores_nothing(admin: Files) -> None:
    """?dry_run=true answers what would be loaded, or the problems, and keeps no version."""
    body = zipped({"a.aiml": HI.encode(), "b.aiml": category("BYE", "ciao").encode()})
    checked = admin.put("/aiml", body, "application/zip", dry_run="true")
    assert checked.json() == {"valid": True, "files": 2, "categories": 2}
    refused = admin.put("/aiml", "<aiml><category>", "application/xml", dry_run="true")
    assert refused.status_code == 422 and refused.json()["problems"][0]["file"] == "bot.aiml"
    assert admin.versions() == []


def test_one_document_declared_latin1_is_kept_as_utf8(admin: Files, rsvp: Rsvp) -> None:
    """A document's declared encoding is honoured; it is kept (and sent back) as UTF-8."""
    text = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + category("CAFE", "caf\xe9")
    saved = admin.put("/aiml", text.encode("latin-1"), "application/xml", file="cafe.aiml")
    assert saved.status_code == 200, saved.text
    assert said(rsvp, "cafe") == "café"
    back = admin.get("/aiml")
    assert back.text == text.replace("ISO-8859-1", "UTF-8")


def test_properties_maps_and_sets_round_trip(admin: Files, rsvp: Rsvp) -> None:
    """Each is stored as a new version, read back as sent, and properties reach the AIML."""
    assert admin.put("/aiml", category("WHO ARE YOU", '<bot name="name"/>'), "text/xml").is_success
    properties = "# the bot\nname:Ada\nAGE=3\n"
    assert admin.put("/properties", properties, "text/plain").json()["version"] == 2
    assert admin.put("/maps", "capital:France=Paris\n", "text/plain").json()["version"] == 3
    assert admin.put("/sets", "colour:red,green\n", "text/plain").json()["version"] == 4
    assert admin.get("/properties").text == properties
    assert admin.get("/maps").text == "capital:France=Paris\n"
    assert admin.get("/sets").text == "colour:red,green\n"
    assert admin.get("/properties", version=1).text == ""
    assert said(rsvp, "who are you") == "Ada"
    refused = admin.put("/properties", "name:Ada\njust words\n", "text/plain")
    assert refused.status_code == 422 and refused.json()["problems"][0]["line"] == 2
    too_big = admin.put("/maps", b"x" * (256 * 1024 + 1), "text/plain")
    assert too_big.status_code == 413
    assert admin.get("/aiml").text.startswith("<aiml>")  # the AIML stayed
    assert admin.versions() == [4, 3, 2, 1]


async def test_behaviour_trees_are_versioned_and_sent_by_name(
    admin: Files, stack: Stack, project: TestProject, nc: NatsClient
) -> None:
    """PUT/GET/DELETE make versions; a behavior_update naming a tree without xml sends the
    release stage's tree of that name (404 when the release has none)."""
    assert admin.put("/behaviors/Patrol", PATROL, "application/xml").json()["version"] == 1
    wrong = admin.put("/behaviors/Guard", PATROL, "application/xml")
    assert wrong.status_code == 422 and "Guard" in wrong.json()["detail"]
    changed = PATROL.replace("desk", "lobby")
    assert admin.put("/behaviors/Patrol", changed, "application/xml").json()["version"] == 2
    fragment = '<Sequence><MoveTo goal="dock"/></Sequence>'
    assert admin.put("/behaviors/Dock", fragment, "application/xml").json()["version"] == 3
    listed = admin.get("/behaviors", limit=1).json()
    assert [t["name"] for t in listed["items"]] == ["Dock"] and listed["next"]
    rest = admin.get("/behaviors", limit=1, cursor=listed["next"]).json()
    assert [t["name"] for t in rest["items"]] == ["Patrol"] and rest["next"] is None
    assert admin.get("/behaviors", cursor="forged").status_code == 422
    assert admin.get("/behaviors/Patrol").text == changed
    assert admin.get("/behaviors/Patrol", version=1).text == PATROL
    assert admin.delete("/behaviors/Dock").json()["version"] == 4
    assert admin.get("/behaviors/Dock").status_code == 404
    assert admin.delete("/behaviors/Dock").status_code == 404

    command = {"type": "behavior_update", "data": {"tree_name": "Patrol"}}
    unpublished = admin.post("/robots/r1/commands", command)
    assert unpublished.status_code == 404 and "release" in unpublished.json()["detail"]
    assert admin.post("/publish", {"version": 1}).json() == {"version": 1}
    queued = admin.post("/robots/r1/commands", command)
    assert queued.status_code == 202, queued.text
    subject = subjects.robot_command(project=project.key, robot="r1")
    sent = await nc.jetstream().get_last_msg(subjects.ROBOT_STREAM, subject)
    body = json.loads(sent.data or b"{}")
    assert body["command"]["xml"] == PATROL and body["command"]["tree_name"] == "Patrol"


def test_diff_lists_each_changed_part(admin: Files) -> None:
    """from=release to=test by default; each changed AIML file and part has a unified diff."""
    body = zipped({"a.aiml": HI.encode(), "b.aiml": category("BYE", "ciao").encode()})
    assert admin.put("/aiml", body, "application/zip").json()["version"] == 1
    assert admin.post("/publish").json() == {"version": 1}
    changed = zipped({"a.aiml": HI.encode(), "b.aiml": category("BYE", "adieu").encode()})
    assert admin.put("/aiml", changed, "application/zip").json()["version"] == 2
    assert admin.put("/properties", "name:Ada\n", "text/plain").json()["version"] == 3
    assert admin.put("/behaviors/Patrol", PATROL, "application/xml").json()["version"] == 4
    diff = admin.get("/diff").json()
    assert (diff["old"], diff["new"]) == (1, 4)
    parts = {p["part"]: p for p in diff["parts"]}
    assert list(parts) == ["aiml/b.aiml", "properties", "behavior/Patrol"]
    assert "-<aiml><category><pattern>BYE</pattern><template>ciao" in parts["aiml/b.aiml"]["diff"]
    assert parts["properties"]["change"] == "added"
    everything = admin.get("/diff", **{"from": "0", "to": "2"}).json()
    assert [p["part"] for p in everything["parts"]] == ["aiml/a.aiml", "aiml/b.aiml"]
    assert admin.get("/diff", **{"from": "3", "to": "3"}).json()["parts"] == []
    assert admin.get("/diff", **{"from": "99"}).status_code == 404
    assert admin.get("/diff", **{"from": "yesterday"}).status_code == 422


def test_the_release_rolls_back_by_publishing_an_older_version(admin: Files, rsvp: Rsvp) -> None:
    """Publishing an older version makes the release answer from it again; test is unchanged
    (restoring one copies its files into a new test version)."""
    assert admin.put("/aiml", HI, "application/xml").json()["version"] == 1
    assert admin.post("/publish").json() == {"version": 1}
    assert admin.put("/aiml", HI.replace("hello", "howdy"), "application/xml").is_success
    assert admin.post("/publish").json() == {"version": 2}
    assert said(rsvp, "hi", stage="release") == "howdy"
    assert admin.post("/publish", {"version": 1}).json() == {"version": 1}
    assert said(rsvp, "hi", stage="release") == "hello"
    assert said(rsvp, "hi", stage="test") == "howdy"
    listed = admin.get("/versions").json()
    assert (listed["test"], listed["release"]) == (2, 1)
    assert admin.get("/aiml", stage="release").text == HI
    assert admin.post("/versions/1/restore").json()["version"] == 3  # files come along
    assert said(rsvp, "hi") == "hello" and admin.get("/aiml").text == HI
