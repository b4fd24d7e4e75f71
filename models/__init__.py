"""The GB/T 50328 catalogue, domain knowledge about its items, classifiers and the model registry."""
