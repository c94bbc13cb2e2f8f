"""Network building blocks: observation encoders and recurrent cores (flax.linen).

:mod:`jaxpg.networks` assembles them into the actor and critic of a run.
"""

from jaxpg.nn.encoders import ACTIVATION_FNS, CNN, ENCODERS, MLP, ObsEncoder, split_action_mask
from jaxpg.nn.recurrent import CELLS, RecurrentCore, initial_carry, reset_carry

__all__ = ["ACTIVATION_FNS", "CNN", "ENCODERS", "MLP", "ObsEncoder", "split_action_mask",
           "CELLS", "RecurrentCore", "initial_carry", "reset_carry"]
