import sys

from pit_guard.cli import main

sys.exit(main())
