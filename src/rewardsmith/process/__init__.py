"""Dense rewards: step segmentation, step and token scores, credit assignment, LM scoring."""
