"""The command-line commands that write and then call `upkeep` (sync, import, demo): they sit
above the writers and upkeep, so the writers need not know the metric layer or the meeting.
Each module adds its sub-commands through `register(subparsers)` (see cli.py)."""
