"""The dialog service: answers turns from each project's bot content (AIML for now)."""
