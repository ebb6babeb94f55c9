"""XPARO: its command API (WebSocket and REST twin), the typed API and the robots' REST routes."""
