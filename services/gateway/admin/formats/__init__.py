"""The files operators upload and download through the admin API: pure readers and writers."""
