"""Metrics, log correlation and trace propagation shared by every service."""
