from asmr_zoo.cli.app import main

main()
