"""Trained FAQ and NLU models kept by content hash, like the AIML kernels: a project's test and
release stages, a version restored, and projects with the same content share one model, and a
content that has not changed is never trained twice in a process."""

import hashlib
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from shared.contracts.knowledge import Faq, Intents

from .faq import FaqIndex
from .nlu import NluModel

T = TypeVar("T")


def content_key(content: Faq | Intents) -> str:
    """The hash a trained model is kept by: its content's canonical JSON."""
    return hashlib.sha256(content.model_dump_json().encode()).hexdigest()


class Trained(Generic[T]):
    """Models by content hash, each trained once however many callers ask at the same time,
    and forgotten when no brain holds it any more."""

    def __init__(self) -> None:
        self._models: weakref.WeakValueDictionary[str, T] = weakref.WeakValueDictionary()
        self._training: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.trained = 0  # how many models this process has trained (tests read it)

    def get_or_train(self, key: str, train: Callable[[], T]) -> T:
        """The model of `key`, trained by `train()` unless one is alive (blocking: run it in a
        thread); concurrent callers of one key wait for the one training."""
        with self._lock:
            found = self._models.get(key)
            if found is not None:
                return found
            training = self._training.setdefault(key, threading.Lock())
        with training:
            with self._lock:
                found = self._models.get(key)
            if found is None:
                found = train()
                with self._lock:
                    self._models[key] = found
                    self.trained += 1
            with self._lock:
                self._training.pop(key, None)
        return found


FAQ_MODELS: Trained[FaqIndex] = Trained()
NLU_MODELS: Trained[NluModel] = Trained()


def faq_index(faq: Faq, models: Trained[FaqIndex] = FAQ_MODELS) -> FaqIndex:
    """The FAQ's trained index, trained now unless one of the same content exists."""
    return models.get_or_train(content_key(faq), lambda: FaqIndex(faq))


def nlu_model(intents: Intents, models: Trained[NluModel] = NLU_MODELS) -> NluModel:
    """The intents' trained model, trained now unless one of the same content exists."""
    return models.get_or_train(content_key(intents), lambda: NluModel(intents))
