from cfn.build import main

main()
