"""RSVP.ai's chat API end to end: admin uploads → gateway → JetStream → dialog (FAQ, NLU, AIML
chain, stages) → the exact RSVP response."""

import json
from pathlib import Path
from uuid import uuid4

import asyncpg
import httpx
import pytest

from shared import subjects
from shared.identity import DEFAULT_FALLBACK
from shared.settings import CommonSettings
from tests.support.plugin import Stack, TestProject
from tests.support.waits import wait_until

from .rsvp import Admin, Rsvp

PUBLIC = Path(__file__).resolve().parents[2] / "eval" / "public"
FAQ = {
    "groups": [
        {
            "gid": "144617",
            "questions": [
                "What are your opening hours?",
                "When are you open?",
                "What time do you close?",
            ],
            "answer": "We are open from 9 am to 6 pm, Monday to Saturday.",
            "labels": ["hours"],
            "skillname": "faq_business",
        },
        {
            "gid": "144618",
            "questions": ["Where can I park?", "Is there a car park?", "Do you have parking?"],
            "answer": "The car park is behind the building, free for two hours.",
            "labels": ["parking"],
            "skillname": "faq_business",
            "url": "https://example.org/parking-map.mp4",
            "action": "point_to:car_park",
        },
        {
            "gid": "cn-1",
            "questions": ["你们几点开门？", "营业时间是什么时候？", "你们什么时候关门？"],
            "answer": "我们周一到周六早上九点到晚上六点营业。",
            "labels": ["营业时间"],
            "skillname": "faq_cn",
        },
    ]
}
INTENTS = """\
entities:
  - name: drink
    values:
      - value: coffee
        synonyms: [latte, espresso]
      - value: tea
intents:
  - name: Weather Forecast
    skill: weather
    sentences:
      - what is the weather in {location}
      - weather in {location} {date}
      - will it rain in {location}
      - weather forecast please
    slots:
      - {name: location, entity: system_location, prompt: "Which city?"}
      - {name: date, entity: system_date, required: false}
    response: The weather in {location} {date} is sunny.
  - name: Order Drink
    skill: cafe
    sentences:
      - I would like a {drink}
      - can I order a {drink}
      - "{number} {drink} please"
    slots:
      - {name: drink, entity: drink, prompt: "What would you like to drink?"}
      - {name: number, entity: system_number, required: false}
    response: One {drink} coming up.
    action: make_drink
  - name: 天气预报
    skill: weather_cn
    sentences:
      - "{location}天气怎么样"
      - "{location}明天会下雨吗"
      - 查一下天气
    slots:
      - {name: location, entity: system_location, prompt: 哪个城市？}
    response: "{location}天气晴朗。"
"""
AIML = (
    '<category><pattern>MY NAME IS *</pattern><template><think><set name="name"><star/></set>'
    '</think>Hi <get name="name"/></template></category>'
    '<category><pattern>WHAT IS MY NAME</pattern><template>You are <get name="name"/>'
    "</template></category>"
)


@pytest.fixture
def admin(stack: Stack, project: TestProject, admin_token: str) -> Admin:
    return Admin(stack, project, admin_token)


@pytest.fixture
def rsvp(stack: Stack, project: TestProject) -> Rsvp:
    return Rsvp(stack, project)


@pytest.fixture
def loaded(admin: Admin) -> Admin:
    """A project with the FAQ, the intents and some AIML on its test stage."""
    assert admin.put_json("/faq", FAQ).status_code == 200
    assert admin.put("/intents", INTENTS, "application/yaml").status_code == 200
    assert admin.put("/aiml", AIML, "application/xml").status_code == 200
    return admin


def test_faq_answer_has_rsvps_exact_shape(loaded: Admin, rsvp: Rsvp) -> None:
    """An exact paraphrase scores 1 and the response is the spec's Paired-Corpus example."""
    body = rsvp.ask("When are you open?")
    assert set(body) == {"params", "stage", "status", "topic"}
    assert (body["status"], body["topic"]) == (0, "faq")
    assert set(body["params"]) == {"skillId", "tid"}
    assert body["params"]["skillId"] == "faq_business"
    [element] = body["stage"]
    assert element["message"] == FAQ["groups"][0]["answer"]
    info = element["props"]["faq_info"]
    assert set(info) == {"candidates", "skillname", "gid", "groupBusinessId", "labels"}
    assert (info["gid"], info["skillname"], info["labels"]) == ("144617", "faq_business", ["hours"])
    best = info["candidates"][0]
    assert set(best) == {
        "score",
        "gid",
        "groupBusinessId",
        "question",
        "answer",
        "skillname",
        "labels",
    }
    assert (best["score"], best["gid"], best["question"]) == (1, "144617", "When are you open?")
    scores = [c["score"] for c in info["candidates"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_answer_carries_url_and_robot_action(loaded: Admin, rsvp: Rsvp) -> None:
    """A group's url and action reach the DialogStage (a robot acts on `action`)."""
    [element] = rsvp.ask("is there a car park")["stage"]
    assert element["url"] == "https://example.org/parking-map.mp4"
    assert element["action"] == "point_to:car_park"


def test_intent_with_location_slot_in_the_spec_shape(loaded: Admin, rsvp: Rsvp) -> None:
    """The Dialog example: intentName, intentSlots with the [id, city, province, country,
    continent] location value, intentCandidates, topic nlu_skill."""
    body = rsvp.ask("what is the weather in Beijing", uid=uuid4().hex)
    assert (body["status"], body["topic"]) == (0, "nlu_skill")
    params = body["params"]
    assert params["intentName"] == "Weather Forecast"
    assert params["intentSlots"]["location"] == [
        {
            "slotType": "system_location",
            "value": [["1816670", "Beijing", "Beijing", "China", "Asia"]],
            "key": "Beijing",
        }
    ]
    best = params["intentCandidates"][0]
    assert (best["name"], best["done"], best["fulfillment"]) == ("Weather Forecast", True, False)
    assert best["slotProperties"] == params["intentSlots"]
    assert 0 < best["score"] <= 1 and best["intentid"] and best["sentence"]
    assert body["stage"] == [{"message": "The weather in Beijing is sunny."}]


def test_missing_slot_is_asked_and_the_same_uid_fills_it(loaded: Admin, rsvp: Rsvp) -> None:
    """Slot filling across turns is per uid: a bare lowercase "shanghai" is a city only where
    the bot just asked for one."""
    uid, other = uuid4().hex, uuid4().hex
    first = rsvp.ask("weather forecast please", uid=uid)
    assert first["stage"][0]["message"] == "Which city?"
    assert first["params"]["intentCandidates"][0]["done"] is False
    elsewhere = rsvp.ask("shanghai", uid=other)
    assert elsewhere["topic"] != "nlu_skill"
    second = rsvp.ask("shanghai", uid=uid)
    assert second["topic"] == "nlu_skill"
    assert second["stage"][0]["message"] == "The weather in Shanghai is sunny."
    assert second["params"]["intentCandidates"][0]["done"] is True
    assert second["params"]["intentSlots"]["location"][0]["value"][0][1] == "Shanghai"


def test_custom_entity_synonym_and_fulfillment(loaded: Admin, rsvp: Rsvp) -> None:
    """A synonym fills the slot with its canonical value; a done intent with an action is a
    fulfillment and hands the robot its action."""
    body = rsvp.ask("can I order a latte", uid=uuid4().hex)
    assert body["params"]["intentSlots"]["drink"][0]["value"] == "coffee"
    assert body["params"]["intentCandidates"][0]["fulfillment"] is True
    assert body["stage"] == [{"message": "One coffee coming up.", "action": "make_drink"}]


def test_chinese_faq_and_intent_with_and_without_lang(loaded: Admin, rsvp: Rsvp) -> None:
    """Chinese works with lang=cn, and without it (BOT5's client never sends lang)."""
    for extra in ({"lang": "cn"}, {}):
        faq = rsvp.ask("请问你们几点开门", uid=uuid4().hex, **extra)
        assert faq["topic"] == "faq" and faq["stage"][0]["message"].startswith("我们周一")
        nlu = rsvp.ask("北京天气怎么样", uid=uuid4().hex, **extra)
        assert nlu["params"]["intentName"] == "天气预报"
        assert nlu["params"]["intentSlots"]["location"][0]["value"][0][1] == "Beijing"
        assert nlu["stage"][0]["message"] == "北京天气晴朗。"


def test_aiml_answers_below_thresholds_and_keeps_predicates_per_uid(
    loaded: Admin, rsvp: Rsvp
) -> None:
    """What FAQ and NLU do not know falls to the AIML, whose predicates live in the uid."""
    uid = uuid4().hex
    assert rsvp.ask("my name is Ada", uid=uid)["stage"][0]["message"] == "Hi Ada"
    body = rsvp.ask("what is my name", uid=uid)
    assert (body["topic"], body["stage"][0]["message"]) == ("aiml", "You are Ada")
    wechat = f"@{uuid4().hex}/张三.x"  # not a NATS subject token: kept under a digest
    rsvp.ask("my name is Bo", uid=wechat)
    assert rsvp.ask("what is my name", uid=wechat)["stage"][0]["message"] == "You are Bo"
    fallback = rsvp.ask("xyzzy plugh", uid=uid)
    assert fallback["topic"] == "fallback"
    assert fallback["stage"][0]["message"] == "let's check this thing on internet"


def test_chain_order_is_per_project(loaded: Admin, rsvp: Rsvp) -> None:
    """With the chain set to AIML only, neither the FAQ nor the intents answer."""
    assert rsvp.ask("When are you open?")["topic"] == "faq"
    assert loaded.put_json("/chain", {"steps": [{"engine": "aiml"}]}).status_code == 200
    assert rsvp.ask("When are you open?")["topic"] == "fallback"
    assert rsvp.ask("can I order a latte", uid=uuid4().hex)["topic"] == "fallback"
    assert loaded.get("/chain").json() == {"steps": [{"engine": "aiml", "threshold": 0.0}]}


def test_stages_publish_and_restore(admin: Admin, rsvp: Rsvp) -> None:
    """test answers the newest version at once; release only what was published; an old
    version can be restored."""
    question = "When are you open?"
    old = FAQ["groups"][0]["answer"]
    assert admin.put_json("/faq", FAQ).json()["version"] == 1
    assert rsvp.ask(question)["topic"] == "faq"  # the default stage is test
    assert rsvp.ask(question, stage="release")["topic"] == "fallback"  # nothing published
    assert admin.post("/publish").json() == {"version": 1}
    changed = {"groups": [{**FAQ["groups"][0], "answer": "Open all night."}]}
    assert admin.put_json("/faq", changed).json()["version"] == 2
    assert rsvp.ask(question, stage="test")["stage"][0]["message"] == "Open all night."
    assert rsvp.ask(question, stage="release")["stage"][0]["message"] == old
    assert admin.post("/publish").json() == {"version": 2}
    assert rsvp.ask(question, stage="release")["stage"][0]["message"] == "Open all night."
    assert admin.post("/versions/1/restore").json()["version"] == 3
    assert rsvp.ask(question)["stage"][0]["message"] == old
    listed = admin.get("/versions").json()
    assert (listed["test"], listed["release"]) == (3, 2)
    assert [v["version"] for v in listed["versions"]] == [3, 2, 1]
    assert listed["versions"][0]["change"] == "restore of version 1"
    assert admin.post("/publish", {"version": 9}).status_code == 404
    assert admin.post("/versions/9/restore").status_code == 404


def uids_in_every_partition() -> list[str]:
    """One RSVP uid per turn partition: their turns reach every dialog replica."""
    partitions = CommonSettings().chat_partitions
    found: dict[int, str] = {}
    while len(found) < partitions:
        uid = f"p{len(found)}-{uuid4().hex[:6]}"
        partition = subjects.partition_of(subjects.session_key(uid, prefix="uid-"), partitions)
        found.setdefault(partition, uid)
    return list(found.values())


def test_a_publication_and_a_new_fallback_answer_the_very_next_turn(
    admin: Admin, rsvp: Rsvp
) -> None:
    """On both dialog replicas (a session in every partition), the turn right after a
    publication answers from the published version, and the turn right after the project's
    fallback changed says the new one, though each replica had the old ones in memory."""
    question, old = "When are you open?", FAQ["groups"][0]["answer"]
    uids = uids_in_every_partition()

    def said(q: str, uid: str) -> str:
        return str(rsvp.ask(q, uid=uid, stage="release")["stage"][0]["message"])

    assert admin.put_json("/faq", FAQ).json()["version"] == 1
    assert admin.post("/publish").json() == {"version": 1}
    changed = {"groups": [{**FAQ["groups"][0], "answer": "Open all night."}]}
    assert admin.put_json("/faq", changed).json()["version"] == 2
    for uid in uids:  # every replica answers from (and keeps) version 1 and the default fallback
        assert (said(question, uid), said("xyzzy plugh", uid)) == (old, DEFAULT_FALLBACK)
    assert admin.post("/publish").json() == {"version": 2}
    new = httpx.patch(admin.base, json={"fallback": "Ask the front desk."}, headers=admin.headers)
    assert new.status_code == 200, new.text
    for uid in uids:
        assert said(question, uid) == "Open all night."
        assert said("xyzzy plugh", uid) == "Ask the front desk."


def test_bad_requests_get_status_minus_one(stack: Stack, project: TestProject, rsvp: Rsvp) -> None:
    """Each failure answers RSVP's shape with status -1, a reason and the right HTTP status."""
    good = {"botid": str(project.key), "token": project.secret, "uid": "u1", "q": "hi"}
    cases = [
        ({**good, "q": ""}, 400, "q is required"),
        ({k: v for k, v in good.items() if k != "uid"}, 400, "uid is required"),
        ({k: v for k, v in good.items() if k != "token"}, 400, "token is required"),
        ({**good, "lang": "fr"}, 400, "lang"),
        ({**good, "stage": "prod"}, 400, "stage"),
        ({**good, "token": "0" * 64}, 401, "token"),
        ({**good, "botid": str(uuid4())}, 404, "no bot"),
        ({**good, "botid": "999001"}, 404, "no bot"),
    ]
    for params, status, reason in cases:
        response = rsvp.raw(**params)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"] == "application/json;charset=utf-8"
        body = response.json()
        assert (body["status"], body["stage"]) == (-1, []) and reason in body["message"]
        assert project.secret not in response.text


def test_botid_may_be_omitted(loaded: Admin, rsvp: Rsvp, project: TestProject) -> None:
    """botid is optional in the spec: the token alone names the bot."""
    response = rsvp.raw(token=project.secret, uid="u2", q="When are you open?")
    assert response.json()["topic"] == "faq"


async def test_transcript_records_the_engine_and_stage(
    loaded: Admin, rsvp: Rsvp, project: TestProject, pg: asyncpg.Connection
) -> None:
    """Which engine answered each turn (and on which stage) is kept in the transcript."""
    uid = uuid4().hex
    async with httpx.AsyncClient(timeout=15) as client:
        for q in ("When are you open?", "can I order a tea", "my name is Bo"):
            params = {"botid": str(project.key), "token": project.secret, "uid": uid, "q": q}
            assert (await client.get(rsvp.url, params=params)).status_code == 200
    query = (
        "SELECT engine, stage, protocol FROM dialog.turns WHERE project_key = $1"
        " AND session_id = $2 ORDER BY id"
    )

    async def all_stored() -> bool:  # an answer leaves before its batch commits
        return len(await pg.fetch(query, project.key, uid)) == 3

    await wait_until(all_stored, within_s=10, what="the three turns stored")
    rows = await pg.fetch(query, project.key, uid)
    assert [tuple(r) for r in rows] == [
        ("faq", "test", "rsvp"),
        ("nlu", "test", "rsvp"),
        ("aiml", "test", "rsvp"),
    ]


def test_uploads_are_checked_with_lines_and_items(admin: Admin) -> None:
    """Nothing invalid is stored; each problem says where it is; dry runs store nothing."""
    csv = "gid,question,answer\n1,Where is it?,Here\n1,,There\n,orphan,x\n"
    refused = admin.put("/faq", csv, "text/csv")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    lines = {(p.get("line"), p["message"]) for p in refused.json()["problems"]}
    assert (3, "answer differs") in lines and (4, "gid is empty") in lines
    bad_yaml = INTENTS.replace("entity: drink,", "entity: drinks,")
    problem = admin.put("/intents", bad_yaml, "application/yaml").json()
    assert "drinks" in problem["detail"]
    unknown_slot = INTENTS.replace("I would like a {drink}", "I would like a {drnk}")
    problem = admin.put("/intents", unknown_slot, "application/yaml").json()
    assert problem["problems"][0]["line"] == 19 and "{drnk}" in problem["detail"]
    bomb = "a: &x [1, 2]\nb: *x\n"
    assert "aliases" in admin.put("/intents", bomb, "application/yaml").json()["detail"]
    checked = admin.put("/intents", INTENTS, "application/yaml", dry_run="true").json()
    assert checked == {"valid": True, "faq_groups": 0, "intents": 3, "machine_states": 0}
    too_big = admin.put("/faq", b"x" * (16 * 1024 * 1024 + 1), "text/csv")
    assert too_big.status_code == 413
    assert admin.get("/versions").json()["versions"] == []


def test_export_round_trips(admin: Admin) -> None:
    """An exported CSV / YAML uploads back to the same content."""
    admin.put_json("/faq", FAQ)
    admin.put("/intents", INTENTS, "application/yaml")
    csv = admin.get("/faq", format="csv")
    assert csv.headers["content-type"].startswith("text/csv")
    yaml_text = admin.get("/intents", format="yaml").text
    assert admin.put("/faq", csv.content, "text/csv").status_code == 200
    assert admin.put("/intents", yaml_text, "application/yaml").status_code == 200
    assert admin.get("/faq").json() == admin.get("/faq", version=1).json()
    assert admin.get("/intents").json() == admin.get("/intents", version=2).json()
    assert admin.get("/faq", version=99).status_code == 404
    admin.put("/aiml", AIML, "application/xml")
    assert admin.get("/aiml").text == AIML
    assert admin.get("/aiml", stage="release").text == ""  # nothing published


def test_intents_answer_new_wordings_and_fall_back_out_of_scope(admin: Admin, rsvp: Rsvp) -> None:
    """With 30 intents of CLINC150 (eval/public, 10 sentences each) uploaded, a new wording of
    an intent is answered by it and a question about something else is not answered by the NLU
    (the old engine answered "credit limit" and "whisper mode")."""
    data = json.loads((PUBLIC / "clinc150.json").read_text(encoding="utf-8"))
    intents = {
        "intents": [
            {"name": name, "skill": "travel", "sentences": sentences, "response": f"({name})"}
            for name, sentences in sorted(data["train"].items())
        ]
    }
    assert admin.put("/intents", json.dumps(intents), "application/json").status_code == 200
    body = rsvp.ask("i am flying to finland and wanna know the carry-on rules", uid=uuid4().hex)
    assert (body["topic"], body["params"]["intentName"]) == ("nlu_skill", "carry_on")
    assert body["params"]["intentCandidates"][0]["score"] >= 0.5
    assert body["stage"][0]["message"] == "(carry_on)"
    for question in ("how do i change my windshield wipers", "where did mandarin originate from"):
        other = rsvp.ask(question, uid=uuid4().hex)
        assert other["topic"] != "nlu_skill" and "intentName" not in other["params"]
