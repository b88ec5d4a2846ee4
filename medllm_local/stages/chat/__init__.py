"""Chat: answering on a GGUF, similar cases, and the differential's transcript."""
