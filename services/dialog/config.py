"""Dialog service settings (prefix `DIALOG_`)."""

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DialogSettings(BaseSettings):
    """How the dialog service consumes turns and reports health."""

    model_config = SettingsConfigDict(env_prefix="DIALOG_", extra="ignore")

    port: int = Field(8101, description="Port of /health and /ready")
    durable: str = Field(
        "dialog",
        description="Names the turn partitions' durable consumers (<durable>-p<n>), their "
        "leases' KV bucket (<durable>-owners) and their owner generations",
    )
    batch_size: int = Field(
        256, ge=1, description="Turns fetched per pull, answered and written in one transaction"
    )
    fetch_s: float = Field(
        1.0, gt=0, description="How long one pull waits for a first turn when CHAT has none"
    )
    max_ack_pending: int = Field(
        4096, ge=1, description="Turns delivered and not yet acked, across replicas (consumer)"
    )
    publish_s: float = Field(
        5.0,
        gt=0,
        description="A batch whose replies are not all stored in CHAT within this "
        "fails (and is delivered again): a NATS restart can lose a publish's ack",
    )
    lease_s: float = Field(
        6.0,
        gt=0,
        description="A turn partition whose owner stopped renewing its lease this "
        "long is taken over by another replica (renewed every third of it)",
    )
    pool_size: int = Field(4, ge=1, description="asyncpg connections of the turn path")
    requests_pool_size: int = Field(
        4,
        ge=1,
        description="asyncpg connections the requests (sessions, content, conversations) add "
        "to the turn path's in the dialog's one pool",
    )
    ack_wait_s: float = Field(
        4.0,
        gt=0,
        description="A turn not acknowledged this long after delivery (its replica died) is "
        "delivered again; a replica still working on it says so every third of this (short enough "
        "that a turn caught in a crash is answered within RSVP.ai's 10 s wait)",
    )
    early_retry_s: float = Field(
        0.05, gt=0, description="First delay before retrying a turn that came early (doubles)"
    )
    early_wait_s: float = Field(
        8.0,
        description="A turn whose predecessor is still unanswered this long after it was "
        "accepted is answered anyway; longer than ack_wait_s, so a predecessor caught in a "
        "replica's crash is redelivered and answered first",
    )

    project_cache_s: float = Field(
        60.0,
        ge=0,
        description="Longest a replica keeps a project's content versions and fallback text in "
        "memory; a change announced on NATS drops them at once (0: read them for every batch)",
    )
    reset_repeat_s: float = Field(
        3.0,
        ge=0,
        description="A reset of a session that was reset less than this before (its previous "
        "reset, answered or not), with nothing said since, is not answered again: BESSER's "
        "Streamlit UI can re-send reset every second. 0: answer every reset",
    )

    llm_base_url: str | None = Field(
        None,
        description="An OpenAI-compatible endpoint (…/v1) for the llm engine and written rag "
        "answers; unset: both are off",
    )
    llm_model: str = Field("", description="The model the endpoint runs")
    llm_api_key: SecretStr | None = Field(
        None, description="Its key (Authorization: Bearer), kept only here: never stored or shown"
    )
    llm_timeout_s: float = Field(
        7.0,
        gt=0,
        description="A turn waits this long for the model (elsewhere than in its batch), then "
        "gets the extractive answer or the fallback; shorter than DIALOG_EARLY_WAIT_S, after "
        "which the session's next turn would be answered first",
    )
    llm_concurrency: int = Field(8, ge=1, description="Requests to the model at once, per replica")
    llm_history_turns: int = Field(
        6, ge=0, le=50, description="The session's recent turns the llm engine is given"
    )

    machine_tick_s: float = Field(
        1.0,
        gt=0,
        description="How often the state machines' conditions are checked for sessions waiting "
        "on them (BESSER's check_transitions_delay), besides on every message",
    )
    machine_idle_s: float = Field(
        86_400.0,
        gt=0,
        description="Sessions silent for longer than this are no longer checked every second "
        "(their next message still is): abandoned sessions do not cost every replica a read",
    )

    @model_validator(mode="after")
    def _predecessors_get_redelivered(self) -> "DialogSettings":
        if self.early_wait_s <= self.ack_wait_s:
            raise ValueError("DIALOG_EARLY_WAIT_S must be longer than DIALOG_ACK_WAIT_S")
        if self.llm_timeout_s >= self.early_wait_s:
            raise ValueError("DIALOG_LLM_TIMEOUT_S must be shorter than DIALOG_EARLY_WAIT_S")
        return self
