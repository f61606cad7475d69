"""Lambda handlers the templates inline (``ZipFile``); plain modules so tests can import and run them."""
