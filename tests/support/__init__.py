"""What tests and benchmarks share that the app does not need (was medllm_local/testing.py)."""
