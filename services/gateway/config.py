"""Gateway settings (prefix `GATEWAY_`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """Where the gateway listens and how patient it is."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    port: int = Field(8003, description="HTTP and WebSocket port (8003 as in the XPARO document)")
    max_frame_bytes: int = Field(1024 * 1024, description="Larger WebSocket frames close with 1009")
    reply_wait_s: float = Field(
        10.0, description="How long a socket's next command waits for the previous answer"
    )
    request_timeout_s: float = Field(5.0, description="Timeout of requests to other services")
