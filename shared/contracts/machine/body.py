"""A state's body: one-key mappings (`text: ...`, `dataframe: ...`), each compiled to the
matching chat Part when the state is entered."""

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, field_validator

from ..base import Contract
from ..chat import MAX_PART_BYTES, ChartPart, FilePart, FormPart, LocationPart, TablePart

MAX_BODY = 50
MAX_DEPTH = 32  # nesting of a dataframe's or a plotly figure's JSON
_Template = Field(max_length=65_536, description="With {name} placeholders")


class TextItem(Contract):
    """`text: "..."`: plain text."""

    text: str = _Template


class MarkdownItem(Contract):
    """`markdown: "..."`: Markdown."""

    markdown: str = _Template


class HtmlItem(Contract):
    """`html: "..."`: HTML."""

    html: str = _Template


class OptionsItem(Contract):
    """`options: [...]`: buttons whose label is said back when picked."""

    options: list[str] = Field(min_length=1, max_length=50)


class DataframeItem(Contract):
    """`dataframe: {column: [values]}`: a table, each column as long as the others."""

    dataframe: dict[str, list[Any]] = Field(min_length=1, max_length=100)

    @field_validator("dataframe")
    @classmethod
    def _table(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        _shallow(value)
        TablePart(columns=value)
        return value


class PlotlyItem(Contract):
    """`plotly: {data: [...], layout: {...}}`: a plotly figure."""

    plotly: dict[str, Any]

    @field_validator("plotly")
    @classmethod
    def _figure(cls, value: dict[str, Any]) -> dict[str, Any]:
        _shallow(value)
        ChartPart(figure=value)
        return value


class ImageItem(Contract):
    """`image: "<base64 JPEG>"`."""

    image: str = Field(min_length=1, max_length=MAX_PART_BYTES)


class FileItem(Contract):
    """`file: {name, type, base64}`: a file to download."""

    file: FilePart


class LocationItem(Contract):
    """`location: {latitude, longitude}`: a place on the map."""

    location: LocationPart


class AudioItem(Contract):
    """`audio: "..."`: the text, spoken (agent_reply_audio; the media service says it)."""

    audio: str = Field(min_length=1, max_length=2000, description="With {name} placeholders")


class RagItem(Contract):
    """`rag: "{message}"`: the answer from the project's documents to this question, with
    its passages (agent_reply_rag); nothing when no passage holds any of its words."""

    rag: str = Field(min_length=1, max_length=2000, description="With {name} placeholders")


class FormItem(Contract):
    """`form: {id, title, fields: [{name, label, type, options}], submit}`: a form whose
    submission is a GUI event (`when: event, event: gui`)."""

    form: FormPart


_ITEMS: dict[str, type[Contract]] = {
    "text": TextItem,
    "markdown": MarkdownItem,
    "html": HtmlItem,
    "options": OptionsItem,
    "dataframe": DataframeItem,
    "plotly": PlotlyItem,
    "image": ImageItem,
    "file": FileItem,
    "location": LocationItem,
    "audio": AudioItem,
    "rag": RagItem,
    "form": FormItem,
}
_KIND_OF = {model: kind for kind, model in _ITEMS.items()}


def _item_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(next(iter(value))) if len(value) == 1 else None
    return _KIND_OF.get(type(value))


def _shallow(value: Any, depth: int = 0) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH (rendering it recurses)."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict | list):
        for child in children:
            _shallow(child, depth + 1)


BodyItem = Annotated[
    Annotated[TextItem, Tag("text")]
    | Annotated[MarkdownItem, Tag("markdown")]
    | Annotated[HtmlItem, Tag("html")]
    | Annotated[OptionsItem, Tag("options")]
    | Annotated[DataframeItem, Tag("dataframe")]
    | Annotated[PlotlyItem, Tag("plotly")]
    | Annotated[ImageItem, Tag("image")]
    | Annotated[FileItem, Tag("file")]
    | Annotated[LocationItem, Tag("location")]
    | Annotated[AudioItem, Tag("audio")]
    | Annotated[RagItem, Tag("rag")]
    | Annotated[FormItem, Tag("form")],
    Discriminator(
        _item_kind,
        custom_error_type="body_item",
        custom_error_message=f"a body item is a mapping with one key, one of {', '.join(_ITEMS)}",
    ),
]
Body = Annotated[list[BodyItem], Field(max_length=MAX_BODY)]
