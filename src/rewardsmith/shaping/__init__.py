"""`shaping`: length-efficiency rewards, reward transforms, ensembles and calibration."""
