"""What a state's body says: each body item as the reply part it becomes, its placeholders
filled (cut to the part's limits, never raising)."""

from collections.abc import Callable
from typing import Any, Protocol

from shared.contracts.chat import (
    MAX_PART_BYTES,
    AudioPart,
    ChartPart,
    FilePart,
    FormPart,
    ImagePart,
    LocationPart,
    OptionsPart,
    Part,
    RagPart,
    TablePart,
    TextPart,
)
from shared.contracts.machine import (
    AudioItem,
    BodyItem,
    DataframeItem,
    FileItem,
    FormItem,
    HtmlItem,
    ImageItem,
    LocationItem,
    MarkdownItem,
    OptionsItem,
    PlotlyItem,
    RagItem,
    TextItem,
)
from shared.contracts.media import MAX_SPOKEN_CHARS

MAX_TEXT = 65_536


class Fill(Protocol):
    """A template with its placeholders filled (HTML-escaped with `escape`)."""

    def __call__(self, template: str, *, escape: bool = False) -> str: ...


def _filled(value: Any, fill: Callable[[str], str]) -> Any:
    """`value` (JSON) with every string in it filled (keys are left as written)."""
    if isinstance(value, str):
        return fill(value)
    if isinstance(value, list):
        return [_filled(item, fill) for item in value]
    if isinstance(value, dict):
        return {key: _filled(item, fill) for key, item in value.items()}
    return value


def body_part(item: BodyItem, fill: Fill) -> Part:
    """The reply `item` says, its placeholders filled by `fill` (cut to the part's limits,
    never raises)."""
    if isinstance(item, TextItem):
        return TextPart(kind="str", text=fill(item.text)[:MAX_TEXT])
    if isinstance(item, MarkdownItem):
        return TextPart(kind="markdown", text=fill(item.markdown)[:MAX_TEXT])
    if isinstance(item, HtmlItem):
        return TextPart(kind="html", text=fill(item.html, escape=True)[:MAX_TEXT])
    if isinstance(item, OptionsItem):
        return OptionsPart(options=[fill(option) for option in item.options])
    if isinstance(item, DataframeItem):
        return TablePart(columns={fill(k): _filled(v, fill) for k, v in item.dataframe.items()})
    if isinstance(item, PlotlyItem):
        return ChartPart(figure=_filled(item.plotly, fill))
    if isinstance(item, ImageItem):
        return ImagePart(base64=fill(item.image)[:MAX_PART_BYTES])
    if isinstance(item, FileItem):
        return FilePart(
            name=fill(item.file.name)[:255] or "file",
            type=fill(item.file.type)[:255] or "application/octet-stream",
            base64=fill(item.file.base64)[:MAX_PART_BYTES],
        )
    if isinstance(item, AudioItem):
        return AudioPart(text=fill(item.audio)[:MAX_SPOKEN_CHARS])
    if isinstance(item, RagItem):  # the chain answers it from the documents
        return RagPart(question=fill(item.rag)[:MAX_TEXT], answer="", llm_name="")
    if isinstance(item, FormItem):
        form = item.form
        fields = [f.model_copy(update={"label": fill(f.label)[:200]}) for f in form.fields]
        return FormPart(
            id=form.id, title=fill(form.title)[:1000], fields=fields, submit=form.submit
        )
    assert isinstance(item, LocationItem)
    return LocationPart(latitude=item.location.latitude, longitude=item.location.longitude)
