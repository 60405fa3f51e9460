"""Process exit codes shared by every command (sysexits.h where one fits)."""

from supervisor_app.errors import EXIT_PERMANENT, EXIT_TEMPORARY, EXIT_USAGE

OK = 0
FAILURE = 1  # a check found problems (invalid config, verify failures, control error)
USAGE = EXIT_USAGE  # bad command line (argparse's own code)
TEMPFAIL = EXIT_TEMPORARY  # retrying later may succeed (I/O errors such as ENOSPC)
CONFIG = EXIT_PERMANENT  # permanent until a person changes something
