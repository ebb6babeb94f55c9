"""The turn path: turns pulled per partition, answered in batches, written in one transaction."""
