from aekit.cli.entry import main

main()
