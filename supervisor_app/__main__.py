"""`python -m supervisor_app` is `chronicle-fleet`."""

import sys

from supervisor_app.cli.fleet import main

sys.exit(main())
