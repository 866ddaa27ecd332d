"""Group advantages for GRPO-family trainers."""
