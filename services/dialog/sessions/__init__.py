"""The sessions the protocols open, read, update, speak into and delete."""
