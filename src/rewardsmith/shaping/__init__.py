"""`shaping`: rewards reshaped from a verifier's verdict and the rollouts' lengths."""
