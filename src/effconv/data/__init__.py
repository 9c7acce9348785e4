"""CIFAR-10 sources and loaders."""

from effconv.data.cifar import CLASSES, CifarArrays, available_sources, load_cifar10, resolve_source, subset

__all__ = ["CLASSES", "CifarArrays", "available_sources", "load_cifar10", "resolve_source", "subset"]
