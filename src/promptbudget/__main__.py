from promptbudget.entry import main

main()
