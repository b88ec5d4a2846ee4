"""Ingest: files (PDF, scans, DOCX, text, folders, zips) -> text, read in an isolated child process."""
