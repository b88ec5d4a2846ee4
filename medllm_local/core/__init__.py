"""Shared building blocks every layer may use: records, prompts, sections, models on disk, the offline guard."""
