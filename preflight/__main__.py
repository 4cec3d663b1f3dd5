from preflight.app.cli import main

main()
