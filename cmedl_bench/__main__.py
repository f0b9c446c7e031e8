from cmedl_bench.cli import main

main()
