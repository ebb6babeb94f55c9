"""The documents engine's answers: the passages found and the sentences quoted from the best one,
or the answer a language model wrote from them."""

from shared.contracts.chat import RagDoc, RagPart

from .knowledge.documents import Hit, extract_answer
from .llm import WRITER

EXTRACTIVE = "extractive"  # the llm_name of an answer quoted from the passages


def rag_answer(question: str, hits: list[Hit]) -> RagPart:
    """The extractive answer from documents: the best passage's closest sentences and where
    they come from, with every passage found."""
    best = hits[0].passage
    where = f"{best.source}, page {best.page}" if best.page > 1 else best.source
    quoted = extract_answer(question, best)
    return RagPart(
        question=question,
        answer=f"{quoted}\n\n(Source: {where})",
        llm_name=EXTRACTIVE,
        docs=[
            RagDoc(
                content=hit.passage.quoted,
                source=hit.passage.source,
                page=hit.passage.page,
                score=hit.score,
            )
            for hit in hits
        ],
    )


def written_answer(rag: RagPart, answer: str) -> RagPart:
    """The rag answer as the model wrote it from the passages, their sources listed after."""
    sources = "; ".join(
        f"[{n}] {d.source}" + (f", page {d.page}" if d.page > 1 else "")
        for n, d in enumerate(rag.docs, 1)
    )
    return rag.model_copy(
        update={"answer": f"{answer}\n\n(Sources: {sources})", "llm_name": WRITER.model}
    )
