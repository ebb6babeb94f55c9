"""Bot content: its versions and releases, its files, the brains built from them."""
