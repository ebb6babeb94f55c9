"""Chat turns: what a user said and what the bot answered (or said first)."""

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, model_validator

from .base import Contract, Event
from .knowledge import FaqMatch, IntentMatch, Lang, Stage

Protocol = Literal["xparo", "xparo-typed", "aida", "rsvp", "besser"]
# What an image turn says to the AIML (a bot answers images with <pattern>XIMAGE</pattern>).
IMAGE_INPUT = "XIMAGE"


MAX_PART_BYTES = 4 * 1024 * 1024  # base64 of an image or a file a bot sends


class TextPart(Contract):
    """Text to show: plain (`str`), Markdown or HTML."""

    kind: Literal["str", "markdown", "html"]
    text: str = Field(max_length=65536)


class OptionsPart(Contract):
    """Buttons: the user picks one and it is said back as text."""

    kind: Literal["options"] = "options"
    options: list[str] = Field(min_length=1, max_length=50)


class TablePart(Contract):
    """A table, by columns (pandas' orient=columns): each column the same number of rows."""

    kind: Literal["dataframe"] = "dataframe"
    columns: dict[str, list[Any]] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _rectangular(self) -> "TablePart":
        if len({len(values) for values in self.columns.values()}) > 1:
            raise ValueError("every column of a table needs the same number of rows")
        return self


class ChartPart(Contract):
    """A plotly figure ({"data": [...], "layout": {...}})."""

    kind: Literal["plotly"] = "plotly"
    figure: dict[str, Any]

    @model_validator(mode="after")
    def _has_data(self) -> "ChartPart":
        if not isinstance(self.figure.get("data"), list):
            raise ValueError('a plotly figure needs a "data" list')
        return self


class ImagePart(Contract):
    """An image: base64 of JPEG bytes, no data: prefix (as BESSER sends them)."""

    kind: Literal["image"] = "image"
    base64: str = Field(max_length=MAX_PART_BYTES)


class FilePart(Contract):
    """A file for the user to download."""

    kind: Literal["file"] = "file"
    name: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=255, description="MIME type")
    base64: str = Field(max_length=MAX_PART_BYTES)


class LocationPart(Contract):
    """A place on the map."""

    kind: Literal["location"] = "location"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class RagDoc(Contract):
    """A passage of a document that answers a question, and where it is."""

    content: str = Field(max_length=65536, description="The passage (its section heading first)")
    source: str = Field(max_length=255, description="The document's name, as uploaded")
    page: int = Field(ge=1, description="Its page (1 for documents without pages)")
    score: float = Field(ge=0.0, le=1.0, description="Share of the question's word weight in it")


class RagPart(Contract):
    """An answer from documents (BESSER's RAGMessage): the question, the answer, who wrote it
    (a model's name, or extractive) and the passages it comes from, best first."""

    kind: Literal["rag"] = "rag"
    question: str = Field(max_length=65536)
    answer: str = Field(max_length=65536)
    llm_name: str = Field(max_length=200)
    docs: list[RagDoc] = Field(
        default_factory=list,
        max_length=20,
        description="Empty only in a state machine's reply before the rag engine answered it",
    )


class AudioPart(Contract):
    """Speech: the text to say and, once the media service said it, its mono float32 samples
    (base64 of their little-endian bytes) as BESSER's reply_speech sends them. The dialog
    sends only the text; the gateway has it said before it shows the reply."""

    kind: Literal["audio"] = "audio"
    text: str = Field(max_length=65536, description="What it says")
    base64: str = Field("", max_length=MAX_PART_BYTES, description="Empty: not said yet")
    sample_rate: int = Field(16_000, ge=8000, le=192_000)


class FormField(Contract):
    """One input of a form: text, a number, or a choice among `options`."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    label: str = Field("", max_length=200)
    type: Literal["text", "number", "choice"] = "text"
    options: list[str] | None = Field(None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _choices(self) -> "FormField":
        if (self.type == "choice") != (self.options is not None):
            raise ValueError("a choice has options, and only a choice has them")
        return self


class FormPart(Contract):
    """A form the user fills in and sends: it comes back as a GUI event (BESSER's
    user_gui_event, action onSubmit, elementId `id`, value {field: answer})."""

    kind: Literal["form"] = "form"
    id: str = Field(min_length=1, max_length=64, description="The form's elementId")
    title: str = Field("", max_length=1000)
    fields: list[FormField] = Field(min_length=1, max_length=20)
    submit: str = Field("Send", min_length=1, max_length=100, description="The button's label")


Part = Annotated[
    TextPart
    | OptionsPart
    | TablePart
    | ChartPart
    | ImagePart
    | FilePart
    | LocationPart
    | RagPart
    | AudioPart
    | FormPart,
    Field(discriminator="kind"),
]
"""One reply of a bot that answers in several pieces (a state machine's body)."""


def plain_text(parts: list[Part]) -> str:
    """What a text-only protocol shows of `parts`: the texts, and the options as a list."""
    lines: list[str] = []
    for part in parts:
        if isinstance(part, TextPart):
            lines.append(part.text)
        elif isinstance(part, OptionsPart):
            lines.append(" / ".join(part.options))
        elif isinstance(part, RagPart):
            lines.append(part.answer)
        elif isinstance(part, FormPart) and part.title:
            lines.append(part.title)
    return "\n".join(lines)


class FileRef(Contract):
    """A file a user sent, kept by the media service."""

    media_id: UUID
    name: str = Field(max_length=255)
    type: str = Field(max_length=255, description="MIME type (sniffed from the bytes if known)")
    size: int = Field(ge=0)


TurnEvent = Literal["text", "start", "reset", "json", "file", "gui", "tick"]


class TurnReceived(Event):
    """A user's message reached a gateway and waits for an answer."""

    project_key: UUID = Field(description="The project (bot) the message is for")
    session_id: str = Field(description="Conversation key; replies go to chat.reply.<p>.<session>")
    protocol: Protocol = Field(description="Wire protocol the user speaks")
    text: str = Field(max_length=65536, description="What the user said")
    image: UUID | None = Field(None, description="An image the user sent (media id) instead")
    channel: str = Field(description="Id of the connection that sent it (orders its turns)")
    seq: int = Field(ge=1, description="Position of this turn among the channel's turns")
    stage: Stage = Field("test", description="Content stage that answers (RSVP's `stage`)")
    lang: Lang = Field("en", description="Language of the question (RSVP's `lang`)")
    skill: str | None = Field(None, max_length=100, description="Only this FAQ/NLU skill answers")
    event: TurnEvent = Field(
        "text",
        description="text: a message; start: a socket opened a new session (the bot greets); "
        "reset: start the session over; json: a JSON object was sent (`payload`); file: a file "
        "was sent (`file`); gui: a button or form of a custom UI was used (`payload`: BESSER's "
        "user_gui_event); tick: the dialog's clock found a state machine's condition true (no "
        "user sent it)",
    )
    file: FileRef | None = Field(None, description="The file sent (event file)")
    payload: dict[str, Any] | None = Field(
        None, description="The JSON object sent (event json), the GUI event (event gui)"
    )


class TurnAnswered(Event):
    """The dialog service answered a turn (causation_id is the TurnReceived's event_id)."""

    project_key: UUID = Field(description="The project (bot) that answered")
    session_id: str = Field(description="Conversation key the answer belongs to")
    turn_event_id: UUID = Field(description="event_id of the TurnReceived answered")
    text: str = Field(description="The bot's answer")
    engine: Literal["aiml", "faq", "nlu", "rag", "llm", "machine", "fallback", "none"] = Field(
        description="Which engine produced the answer"
    )
    content_version: int | None = Field(None, description="Bot content version that answered")
    protocol: Protocol | None = Field(None, description="Protocol of the session (who shows it)")
    stage: Stage = Field("test", description="Content stage that answered")
    faq: FaqMatch | None = Field(None, description="The FAQ's candidates (engine faq)")
    intent: IntentMatch | None = Field(None, description="Intent and slots (engine nlu)")
    url: str | None = Field(None, description="Media URL of the matched answer")
    image: str | None = Field(None, description="Image URL of the matched answer")
    action: str | None = Field(None, description="Instruction for a robot from the answer")
    parts: list[Part] = Field(
        default_factory=list, description="The answer in pieces (a state machine's body)"
    )
    said_before: list[str] = Field(
        default_factory=list,
        description="What an operator (or a schedule) said to the session since its previous "
        "turn, oldest first: RSVP, which has no push, returns it ahead of this answer",
    )
    refused: Literal["session_deleted"] | None = Field(
        None,
        description="The turn was not answered, and why (engine none): session_deleted: the "
        "session was deleted (a BESSER socket is then closed with 1008)",
    )


class SayToSession(Contract):
    """Command: the bot speaks first in a session (an operator, a schedule)."""

    project_key: UUID
    session_id: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=65536)
    source: Literal["operator", "schedule"]
    correlation_id: UUID
    operator: str | None = Field(
        None, max_length=200, description="Who speaks (the admin token's name), for the transcript"
    )


class BotSpoke(Event):
    """The bot said something nobody asked for (published on chat.reply like answers)."""

    kind: Literal["spoke"] = "spoke"
    project_key: UUID
    session_id: str
    text: str
    source: Literal["operator", "schedule"]
    protocol: Protocol | None = Field(None, description="Protocol of the session (who shows it)")


# What chat.reply.<project>.<session> carries (TurnAnswered has no `kind`; extra=forbid tells
# the two apart).
ChatReply = TurnAnswered | BotSpoke
# ChatReply for decoding (TypeAdapter): members tried in order, the answer first. No message is
# both (extra=forbid, BotSpoke's `kind`), and pydantic's default "smart" union validates an
# answer ~4x slower (32 vs 7 µs), once per reply on every gateway.
ChatReplyDecoded = Annotated[ChatReply, Field(union_mode="left_to_right")]
