"""Scale-out backends: `RayScorer` spreads groups over a Ray cluster (`pip install
'rewardsmith[ray]'`); `rewardsmith score --backend ray` uses it."""

from rewardsmith.dist.ray_scorer import RayScorer, RewardWorker
from rewardsmith.dist.tasks import DispatchStats

__all__ = ["DispatchStats", "RayScorer", "RewardWorker"]
