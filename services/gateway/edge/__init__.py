"""The edge: the socket layer, HTTP limits and guards, problems, metrics and the error root."""
