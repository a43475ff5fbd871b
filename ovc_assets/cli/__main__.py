from ovc_assets.cli.app import main

main()
