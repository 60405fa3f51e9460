"""Process exit codes shared by every command (sysexits.h where one fits)."""

OK = 0
FAILURE = 1  # a check found problems (invalid config, verify failures, control error)
USAGE = 2  # bad command line (argparse's own code)
TEMPFAIL = 75  # EX_TEMPFAIL: retrying later may succeed (I/O errors such as ENOSPC)
CONFIG = 78  # EX_CONFIG: permanent until a person changes something
