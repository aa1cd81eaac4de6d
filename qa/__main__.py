from qa.interfaces.cli import main

raise SystemExit(main())
