from promptbudget.cli import main

main()
