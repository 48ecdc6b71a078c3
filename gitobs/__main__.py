from gitobs.cli import main

main()
