"""RSVP.ai's chat API: one HTTP request is one turn, answered in its response."""
