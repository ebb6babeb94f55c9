"""The built-in pages: front page, API docs, operator console and web chat, and their files."""
