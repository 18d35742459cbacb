"""``python -m vi_core``: see ``vi_core.cli``."""

from vi_core.cli import main

raise SystemExit(main())
