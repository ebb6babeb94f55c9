"""The Content port (bot content versions, their files and the release stage), the same on
the in-memory fake and on Postgres."""

from uuid import UUID, uuid4

from shared.contracts import SaveBotContent
from shared.contracts.content import AimlFile, SaveBehavior, SaveDocument, SaveKnowledge
from shared.contracts.knowledge import Faq, FaqGroup

from .stores import DialogStores

TREE = (
    '<root BTCPP_format="4" main_tree_to_execute="patrol">'
    '<BehaviorTree ID="patrol"><Wave/></BehaviorTree></root>'
)
AIML = "<aiml><category><pattern>HI</pattern><template>Hello {n}</template></category></aiml>"


def aiml(project: UUID, n: int, **fields: str) -> SaveBotContent:
    return SaveBotContent(
        project_key=project, aiml=AIML.format(n=n), correlation_id=uuid4(), **fields
    )


def faq(project: UUID) -> SaveKnowledge:
    group = FaqGroup(gid="hours", questions=["When are you open?"], answer="Nine to five")
    return SaveKnowledge(project_key=project, faq=Faq(groups=[group]), correlation_id=uuid4())


async def test_a_project_without_content_reads_as_empty(dialog: DialogStores) -> None:
    """A project that saved nothing answers from version 0 with no AIML, on either stage;
    it has no versions and no rows."""
    project = uuid4()
    for stage in ("test", "release"):
        assert (await dialog.content.get(project, stage=stage)).version == 0
        assert await dialog.content.row(project, stage) is None
        assert await dialog.turns.content_version(project, stage) == 0
    listed = await dialog.content.versions(project, 10)
    assert (listed.test, listed.release, listed.versions) == (0, 0, [])


async def test_each_save_is_the_next_version_and_keeps_what_it_does_not_replace(
    dialog: DialogStores,
) -> None:
    """Saves number versions 1, 2, ...; each reads back (its AIML inline, as one small file),
    an older one stays as it was, and a field a save leaves out (None) keeps its value."""
    project = uuid4()
    first = await dialog.content.save(aiml(project, 1, properties="name:Ada"), 1)
    second = await dialog.content.save(aiml(project, 2), 1)
    assert (first.version, second.version) == (1, 2)
    now = await dialog.content.get(project)
    assert (now.version, now.aiml, now.properties) == (2, AIML.format(n=2), "name:Ada")
    assert [f.name for f in now.aiml_files] == ["bot.aiml"]
    assert (await dialog.content.get(project, version=1)).aiml == AIML.format(n=1)
    assert await dialog.content.aiml_files(project, 1) == [
        AimlFile(name="bot.aiml", text=AIML.format(n=1))
    ]
    digest = now.aiml_files[0].sha256
    assert await dialog.content.texts(project, [digest, "0" * 64]) == {digest: AIML.format(n=2)}
    assert await dialog.turns.content_version(project, "test") == 2


async def test_knowledge_and_files_are_added_to_the_newest_version(dialog: DialogStores) -> None:
    """A FAQ, a behaviour tree and a document each make a version that keeps the AIML before
    it; removing a file that is not there makes none (None), removing one that is makes one
    without it."""
    project = uuid4()
    await dialog.content.save(aiml(project, 1), 1)
    knowledge = await dialog.content.save_knowledge(faq(project))
    assert (knowledge.version, knowledge.faq_groups, knowledge.change) == (2, 1, "faq")
    tree = SaveBehavior(project_key=project, name="patrol", xml=TREE, correlation_id=uuid4())
    assert (await dialog.content.save_behavior(tree)) is not None
    document = SaveDocument(project_key=project, name="guide.txt", correlation_id=uuid4())
    assert (await dialog.content.save_document(document, "Opening hours: nine to five")) is not None
    now = await dialog.content.get(project)
    assert now.version == 4 and now.aiml == AIML.format(n=1)
    assert [g.gid for g in now.faq.groups] == ["hours"]
    assert ([b.name for b in now.behaviors], [d.name for d in now.documents]) == (
        ["patrol"],
        ["guide.txt"],
    )
    missing = SaveBehavior(project_key=project, name="nope", correlation_id=uuid4())
    assert await dialog.content.save_behavior(missing) is None
    removed = await dialog.content.save_behavior(
        SaveBehavior(project_key=project, name="patrol", correlation_id=uuid4())
    )
    assert removed is not None and removed.change == "remove behavior patrol"
    assert (await dialog.content.get(project)).behaviors == []


async def test_the_release_answers_from_what_was_published_last(dialog: DialogStores) -> None:
    """The release stage has nothing until a publish; publishing None takes the newest,
    publishing an older version rolls back, a missing one is refused (None); versions list
    newest first, at most `limit`, with when each was published."""
    project = uuid4()
    for n in (1, 2, 3):
        await dialog.content.save(aiml(project, n), 1)
    assert await dialog.content.publish(project, 9, uuid4()) is None
    assert await dialog.turns.content_version(project, "release") == 0
    assert await dialog.content.publish(project, None, uuid4()) == 3
    assert await dialog.content.publish(project, 1, uuid4()) == 1
    release = await dialog.content.get(project, stage="release")
    assert (release.version, release.aiml) == (1, AIML.format(n=1))
    assert await dialog.turns.content_version(project, "release") == 1
    row = await dialog.content.row(project, "release")
    assert row is not None and row.version == 1
    listed = await dialog.content.versions(project, 2)
    assert (listed.test, listed.release) == (3, 1)
    assert [(v.version, v.released_at is not None) for v in listed.versions] == [
        (3, True),
        (2, False),
    ]


async def test_a_restore_is_a_new_version_with_the_old_content(dialog: DialogStores) -> None:
    """Restoring version 1 appends a version holding its content (AIML and FAQ as they were
    then); restoring a version that does not exist is refused (None)."""
    project = uuid4()
    await dialog.content.save(aiml(project, 1), 1)
    await dialog.content.save_knowledge(faq(project))
    await dialog.content.save(aiml(project, 3), 1)
    restored = await dialog.content.restore(project, 1, uuid4())
    assert restored is not None and restored.version == 4
    now = await dialog.content.get(project)
    assert (now.aiml, now.faq.groups) == (AIML.format(n=1), [])
    assert await dialog.content.restore(project, 9, uuid4()) is None


async def test_one_project_never_reads_another_projects_content(dialog: DialogStores) -> None:
    """Versions, texts and releases are per project: another project's saves are not seen,
    even a text both saved is found only through one's own version."""
    mine, theirs = uuid4(), uuid4()
    saved = await dialog.content.save(aiml(theirs, 1), 1)
    await dialog.content.publish(theirs, None, uuid4())
    assert (await dialog.content.get(mine)).version == 0
    assert (await dialog.content.get(mine, stage="release")).version == 0
    digest = (await dialog.content.get(theirs)).aiml_files[0].sha256
    assert await dialog.content.texts(mine, [digest]) == {}
    assert (await dialog.content.versions(mine, 10)).versions == []
    assert await dialog.content.row(mine, saved.version) is None
