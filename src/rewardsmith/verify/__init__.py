"""Outcome verifiers. Each module registers its component when imported;
`rewardsmith.api` imports them all."""
