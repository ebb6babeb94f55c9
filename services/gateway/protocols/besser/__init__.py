"""BESSER's WebSocket platform: its port and routes, the socket's channel and the wire."""
