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
- :mod:`osnet_lib.data`: dataset loaders (Table 2), the user's own data, transforms.
- :mod:`osnet_lib.synthetic`: the synthetic re-ID world the book runs on;
  :mod:`osnet_lib.baselines`: a hand-crafted colour-histogram matcher.
- :mod:`osnet_lib.metrics`, :mod:`osnet_lib.rerank`: CMC, mAP, mINP (Sec. 4.1), re-ranking.
- :mod:`osnet_lib.recipes`, :mod:`osnet_lib.engine`: training recipes (Sec. 4.1, 4.2) and the
  training and evaluation loop.
- :mod:`osnet_lib.search`: the differentiable IN search (Sec. 3.3, Eq. 5-15).
- :mod:`osnet_lib.viz`: Fig. 6 (gate clusters), Fig. 7 (activation maps), ranked lists.
- :mod:`osnet_lib.deploy`: BatchNorm folding, fast CPU inference, ONNX export.
- :mod:`osnet_lib.analysis`, :mod:`osnet_lib.reproduce`, :mod:`osnet_lib.provenance`: the
  book's measurements, batch runner and result provenance.
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
