"""The media service: uploaded images and files."""
