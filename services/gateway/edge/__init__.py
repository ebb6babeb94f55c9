"""The edge: the socket layer, HTTP limits and guards, refusal shapes, problems and metrics."""
