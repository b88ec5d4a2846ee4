"""The workspace: the catalogue (SQLite), its schema migrations, and the files on disk."""
