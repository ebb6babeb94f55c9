"""The telemetry service: batched ingest of robot telemetry samples and range queries."""
