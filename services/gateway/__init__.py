"""The gateway: the edge every client and robot connects to (one adapter per wire protocol)."""
