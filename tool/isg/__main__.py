from isg.cli import main

main()
