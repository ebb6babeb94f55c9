"""BESSER's agent_reply_rag and agent_reply_audio frames as BAF 4.5 sends them
(reference/besser.md §2.3): rag a JSON object with llm_name, question, answer and docs of
content + metadata; audio the raw float32 array in base64 with dtype, shape and sample rate. An
audio part not said yet is never sent."""

import base64
from datetime import UTC, datetime
from uuid import uuid4

import numpy as np
import pytest

from services.gateway.protocols.besser.wire import encode_part, reply_frames
from shared.contracts.chat import AudioPart, RagDoc, RagPart

pytestmark = pytest.mark.unit


def test_rag_is_encoded_as_baf_rag_message() -> None:
    """The docs are langchain Documents: content, and metadata with source and page."""
    part = RagPart(
        question="q?",
        answer="ans",
        llm_name="extractive",
        docs=[RagDoc(content="c", source="s.pdf", page=1, score=0.5)],
    )
    assert encode_part(part) == (
        "agent_reply_rag",
        {
            "llm_name": "extractive",
            "question": "q?",
            "answer": "ans",
            "docs": [{"content": "c", "metadata": {"source": "s.pdf", "page": 1}}],
        },
    )


def test_audio_is_the_raw_float32_array_with_its_metadata() -> None:
    """np.frombuffer(base64, dtype).reshape(shape) rebuilds the samples, as the UI does."""
    samples = np.array([0.0, 0.5, -0.25], dtype="<f4")
    data = base64.b64encode(samples.tobytes()).decode()
    action, message = encode_part(AudioPart(text="hi", base64=data, sample_rate=16000))
    assert action == "agent_reply_audio"
    meta = message["metadata"]
    assert meta == {"sample_rate": 16000, "dtype": "float32", "shape": [3]}
    rebuilt = np.frombuffer(base64.b64decode(message["audio_data_base64"]), dtype=meta["dtype"])
    assert rebuilt.reshape(meta["shape"]).tolist() == [0.0, 0.5, -0.25]


def test_an_audio_part_not_said_yet_is_left_out() -> None:
    """Without samples (no speech engine answered) only the other parts go out."""
    frames = reply_frames(
        [AudioPart(text="hi")], "hi", at=datetime.now(UTC), reply_id=uuid4(), history=True
    )
    assert [(f["action"], f["message"]) for f in frames] == [("agent_reply_str", "hi")]
