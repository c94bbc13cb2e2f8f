"""RLHF on a synthetic language: task, tiny LM, reward model, PPO for LMs, pipeline."""
