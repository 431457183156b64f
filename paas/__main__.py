from paas.cli.main import main

raise SystemExit(main())
