"""The built-in demo: a synthetic market feed per venue, the real fleet, and a summary."""
