"""Numerical constants shared by every layer (the bottom layer: imports nothing of glumeta)."""

from statistics import NormalDist

__all__ = ["Z975"]

#: 97.5th percentile of the standard normal distribution, the multiplier of a two-sided
#: 95% confidence interval (Cochrane Handbook §6.3.1). Computed, never typed.
Z975 = NormalDist().inv_cdf(0.975)
