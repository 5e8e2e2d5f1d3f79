from bench.compare.main import main

raise SystemExit(main())
