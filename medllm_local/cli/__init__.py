"""The command line: a thin face over the pipeline (`python -m medllm_local.cli`, `launch.py CMD`)."""
