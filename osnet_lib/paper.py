"""The numbers the paper reports, as data, for side-by-side tables in the book.

Values are transcribed from Zhou et al., TPAMI 2021 (percentages as printed; parameters and
Mult-Adds in millions). Nothing here is computed: tables that compare a measurement with the
paper read the paper's side from this module.
"""

#: Table 1: OSNet and OSNet-AIN at 256x128 (both 2.2M parameters, 978.9M Mult-Adds).
TABLE1 = {
    "input_size": (256, 128),
    # stage: (output height, width, channels)
    "stages": {
        "conv1": (128, 64, 64),
        "pool": (64, 32, 64),
        "conv2": (64, 32, 256),
        "transition2": (32, 16, 256),
        "conv3": (32, 16, 384),
        "transition3": (16, 8, 384),
        "conv4": (16, 8, 512),
        "conv5": (16, 8, 512),
        "gap": (1, 1, 512),
        "fc": (1, 1, 512),
    },
    "osnet_ain_blocks": ("OS+IN_in", "OS+IN_in", "OS", "OS+IN_in", "OS+IN_in", "OS"),
    "params_m": 2.2,
    "mult_adds_m": 978.9,
}

#: Sec. 3.4: the same network with normal (full 3x3) convolutions.
NORMAL_CONV = {"params_m": 6.9, "mult_adds_m": 3384.9}

#: Table 2: dataset statistics (#IDs, #images, #cameras).
TABLE2 = {
    "Market1501": (1501, 32668, 6),
    "CUHK03": (1467, 28192, 2),
    "Duke": (1812, 36411, 8),
    "MSMT17": (4101, 126411, 15),
    "VIPeR": (632, 1264, 2),
    "GRID": (251, 1275, 6),
    "CUHK01": (971, 3882, 2),
}

#: Table 3, the methods trained from scratch: (backbone, params in M or None where not
#: reported, {dataset: (R1, mAP)} for the datasets reported). The MobileNetV2 row is the
#: paper's own reproduction (marked with a dagger in the paper).
TABLE3_SCRATCH = {
    "MobileNetV2": ("MobileNetV2", 2.2, {"Market1501": (87.0, 69.5), "CUHK03": (46.5, 46.0),
                                         "Duke": (75.2, 55.8), "MSMT17": (50.9, 27.0)}),
    "BraidNet": ("BraidNet", None, {"Market1501": (83.7, 69.5), "Duke": (76.4, 59.5)}),
    "HAN": ("Inception", 4.5, {"Market1501": (91.2, 75.7), "CUHK03": (41.7, 38.6),
                               "Duke": (80.5, 63.8)}),
    "Auto-ReID": ("Auto", 13.1, {"Market1501": (90.7, 74.6)}),
    "OSNet": ("OSNet", 2.2, {"Market1501": (93.6, 81.0), "CUHK03": (57.1, 54.2),
                             "Duke": (84.7, 68.6), "MSMT17": (71.0, 43.3)}),
}

#: Table 5: ablation of omni-scale residual learning (model number: description, CUHK03 R1,
#: CUHK03 mAP, MSMT17 R1, MSMT17 mAP) and the block options that build each model.
TABLE5 = {
    1: ("T = 4 + unified AG (primary model)", 57.1, 54.2, 71.0, 43.3, {}),
    2: ("T = 4 w/ full conv + unified AG", 59.1, 56.2, 70.5, 43.2, {"conv": "full"}),
    3: ("T = 4 (same depth) + unified AG", 54.4, 52.8, 69.1, 40.4, {"same_depth": 1}),
    4: ("T = 4 + concatenation", 52.2, 50.5, 66.4, 37.7, {"fusion": "concat"}),
    5: ("T = 4 + addition", 52.5, 51.1, 64.5, 36.3, {"fusion": "add"}),
    6: ("T = 4 + separate AGs", 53.6, 51.0, 68.3, 39.4, {"gate_sharing": "separate"}),
    7: ("T = 4 + unified AG (stream-wise)", 54.4, 51.9, 67.9, 40.4,
        {"gate_granularity": "stream"}),
    8: ("T = 4 + learned-and-fixed gates", 52.9, 50.8, 64.5, 36.2, {"fusion": "static"}),
    9: ("T = 1", 43.3, 42.1, 52.9, 26.8, {"T": 1}),
    10: ("T = 2 + unified AG", 52.2, 50.0, 65.6, 37.0, {"T": 2}),
    11: ("T = 3 + unified AG", 54.0, 51.8, 67.7, 39.6, {"T": 3}),
}

#: Table 6: width multiplier beta and resolution multiplier gamma (Market1501).
#: Rows: (beta, params in M, gamma, Mult-Adds in M, R1, mAP).
TABLE6 = [
    (1.0, 2.2, 1.0, 978.9, 94.8, 86.7),
    (0.75, 1.3, 1.0, 571.8, 94.5, 84.1),
    (0.5, 0.6, 1.0, 272.9, 93.4, 82.6),
    (0.25, 0.2, 1.0, 82.3, 92.2, 77.8),
    (1.0, 2.2, 0.75, 550.7, 94.4, 83.7),
    (1.0, 2.2, 0.5, 244.9, 92.0, 80.3),
    (1.0, 2.2, 0.25, 61.5, 86.9, 67.3),
    (0.75, 1.3, 0.75, 321.7, 94.3, 82.4),
    (0.75, 1.3, 0.5, 143.1, 92.9, 79.5),
    (0.75, 1.3, 0.25, 35.9, 85.4, 65.5),
    (0.5, 0.6, 0.75, 153.6, 92.9, 80.8),
    (0.5, 0.6, 0.5, 68.3, 91.7, 78.5),
    (0.5, 0.6, 0.25, 17.2, 85.4, 66.0),
    (0.25, 0.2, 0.75, 46.3, 91.6, 76.1),
    (0.25, 0.2, 0.5, 20.6, 88.7, 71.8),
    (0.25, 0.2, 0.25, 5.2, 79.1, 56.0),
]

#: Input sizes of Table 6's resolution multipliers.
GAMMA_INPUT_SIZE = {1.0: (256, 128), 0.75: (192, 96), 0.5: (128, 64), 0.25: (64, 32)}

#: Table 7: instance normalisation and search, cross-domain (R1, R5, R10, mAP).
TABLE7 = {
    "IBN-Net": {"Market1501->Duke": (43.7, 59.1, 65.2, 24.3),
                "Duke->Market1501": (50.7, 69.1, 76.3, 23.5)},
    "OSNet": {"Market1501->Duke": (44.7, 59.6, 65.4, 25.9),
              "Duke->Market1501": (52.2, 67.5, 74.7, 24.0)},
    "OSNet-IBN": {"Market1501->Duke": (47.9, 62.7, 68.2, 27.6),
                  "Duke->Market1501": (57.8, 74.0, 79.5, 27.4)},
    "OSNet-AIN": {"Market1501->Duke": (52.4, 66.1, 71.2, 30.5),
                  "Duke->Market1501": (61.0, 77.0, 82.5, 30.6)},
}

#: Table 8: OSNet-AIN in the same-domain setting (R1, mAP).
TABLE8 = {
    "OSNet": {"Market1501": (94.8, 86.7), "Duke": (88.2, 76.7)},
    "OSNet-AIN": {"Market1501": (94.2, 84.4), "Duke": (87.9, 74.2)},
}

#: Sec. 4.1 and 4.2: the training recipes as the paper states them.
RECIPES = {
    "scratch": {"optimizer": "sgd", "lr": 0.065, "milestones": (150, 225, 300), "gamma": 0.1,
                "epochs": 350, "batch_size": 64, "weight_decay": 5e-4,
                "augment": ("flip", "crop", "random_patch"), "input_size": (256, 128)},
    "finetune": {"optimizer": "amsgrad", "lr": 0.0015, "scheduler": "cosine", "epochs": 250,
                 "fixbase_epochs": 10, "batch_size": 64, "weight_decay": 5e-4,
                 "augment": ("flip", "random_erase"), "input_size": (256, 128)},
    "search": {"optimizer": "sgd", "lr": 0.1, "scheduler": "cosine", "epochs": 120,
               "batch_size": 512, "weight_decay": 5e-4, "temperature": 10.0,
               "temperature_decay": 0.5, "temperature_every": 20, "temperature_min": 1.7,
               "mc_samples": 1, "augment": ("flip", "color_jitter")},
}
