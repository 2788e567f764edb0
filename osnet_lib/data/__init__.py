"""Re-ID data: dataset loaders, the user's own data, a torch dataset, and transforms.

- :class:`ImageRecord`, :class:`ReIDDataset`: the train/query/gallery split of Sec. 4.1 with
  Table 2's statistics (:meth:`ReIDDataset.summary`).
- :func:`build_dataset`, :func:`list_datasets`: the seven datasets of Table 2 (``market1501``,
  ``dukemtmcreid``, ``msmt17``, ``cuhk03``, ``viper``, ``grid``, ``cuhk01``), the synthetic
  world (``synthetic``) and your own data (``custom_folder``, ``custom_csv``; see
  :mod:`osnet_lib.data.custom`).
- :func:`combine_datasets`: one training set over several sources (Appendix A).
- :class:`ImageDataset`: images and labels for a ``DataLoader``; :func:`read_image`, the one
  image reader, and :func:`scan_images`, the one scanner of image folders;
  :class:`DecodedImageDataset`: the same with every image decoded once (training reads each
  image every epoch).
- :func:`build_transforms`, :class:`RandomPatch`: augmentation (Sec. 4.1, footnote 6).

Example::

    from osnet_lib.data import build_dataset, build_transforms, ImageDataset
    ds = build_dataset("market1501", "~/reid-data")
    train_tf, test_tf = build_transforms(256, 128, augment=("flip", "crop", "random_patch"))
    train_set = ImageDataset(ds.train, train_tf)
"""

from .cache import DecodedImageDataset
from .cuhk03 import convert_cuhk03
from .custom import custom_csv, custom_folder
from .image_dataset import (
    IMAGE_EXTENSIONS,
    ImageDataset,
    is_image_file,
    read_image,
    scan_images,
    to_rgb,
)
from .market import (
    dukemtmcreid,
    market1501,
    read_market1501_layout,
    synthetic,
    synthetic_world_dir,
)
from .msmt17 import msmt17
from .records import ImageRecord, ProtocolError, ReIDDataset, combine_datasets, relabel
from .registry import build_dataset, dataset_options, list_datasets, register_dataset
from .small import cuhk01, grid, viper
from .transforms import (
    AUGMENTATIONS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    RandomPatch,
    build_transforms,
)

__all__ = [
    "AUGMENTATIONS",
    "IMAGE_EXTENSIONS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DecodedImageDataset",
    "ImageDataset",
    "ImageRecord",
    "ProtocolError",
    "RandomPatch",
    "ReIDDataset",
    "build_dataset",
    "build_transforms",
    "combine_datasets",
    "convert_cuhk03",
    "cuhk01",
    "custom_csv",
    "custom_folder",
    "dataset_options",
    "dukemtmcreid",
    "grid",
    "is_image_file",
    "list_datasets",
    "market1501",
    "msmt17",
    "read_image",
    "read_market1501_layout",
    "register_dataset",
    "relabel",
    "scan_images",
    "synthetic",
    "to_rgb",
    "synthetic_world_dir",
    "viper",
]
