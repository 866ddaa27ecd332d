"""`python -m rewardsmith`: the command line (see `rewardsmith.extras.main`)."""

from rewardsmith.extras import main

if __name__ == "__main__":
    main()
