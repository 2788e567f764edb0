"""osnet_lib: OSNet and OSNet-AIN for person re-identification.

The library behind the companion book to Zhou, Yang, Cavallaro and Xiang, "Learning
Generalisable Omni-Scale Representations for Person Re-Identification" (TPAMI 2021).
Each idea of the paper has one home here:

- :mod:`osnet_lib.layers`: Lite 3x3 (Sec. 3.1, Fig. 3) and the aggregation gate (Eq. 3).
- :mod:`osnet_lib.blocks`: the omni-scale residual block (Eq. 1-3, Fig. 4) with its Table 5
  ablation options and the instance-normalisation candidates of Fig. 5.
- :mod:`osnet_lib.models`: OSNet, OSNet-IBN and OSNet-AIN (Table 1), the model registry.
- :mod:`osnet_lib.weights`: loading the weights published by the paper's authors.
- :mod:`osnet_lib.complexity`: parameters and Mult-Adds (Table 1, Table 6).
- :mod:`osnet_lib.paper`: the numbers the paper reports, as data.
"""

__version__ = "0.1.0"

from osnet_lib.blocks import BlockOptions, OSBlock
from osnet_lib.complexity import complexity, count_mult_adds, count_params
from osnet_lib.models import Genotype, OSNet, build_model, list_models
from osnet_lib.weights import load_pretrained

__all__ = [
    "BlockOptions", "Genotype", "OSBlock", "OSNet", "build_model", "complexity",
    "count_mult_adds", "count_params", "list_models", "load_pretrained",
]
