"""AIDA: Phoenix channels at `/socket/websocket` (wire, channel, events, bot feed), and images."""
