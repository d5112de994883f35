"""``python -m realtime``: Ctrl-C while the program is still loading is one line, exit 130."""

import sys

try:
    from realtime.cli import main
except KeyboardInterrupt:
    sys.stderr.write("realtime: interrupted\n")
    raise SystemExit(130) from None

raise SystemExit(main())
