"""Passes: ``Module -> Module`` transformations named in pipeline strings."""
