"""Command-line entry points: argument parsing, printing and exit codes only."""
