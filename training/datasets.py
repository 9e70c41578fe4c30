"""The data sets `--data` names; their loaders are in training/data.py (this module needs no torch, so `--help` stays fast)."""

DATASETS = ("digits", "fashion-mnist", "cifar10", "cifar100", "imagefolder")
