"""Conversations as operators read them: lists, transcripts, the export, the inbox, handoff."""
