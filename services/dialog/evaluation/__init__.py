"""Tools that score the knowledge engines (`make eval`, `make eval-documents`) and build their
data; not imported by the service."""
