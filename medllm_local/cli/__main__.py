"""`python -m medllm_local.cli`: how launch.py and the app's jobs run a command."""

from medllm_local.cli.main import main

raise SystemExit(main())
