"""Test fixtures shared by every test tier (loaded as a pytest plugin)."""
