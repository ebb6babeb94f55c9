"""Phoenix channels over WebSocket (what AIDA's clients speak): wire format, socket, bot feed."""
