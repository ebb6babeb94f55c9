"""The local stack: embedded servers, service processes, the demo project."""
