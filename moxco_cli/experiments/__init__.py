"""Experiments: build a config, call the engine, return pandas tables. No printing, no files."""
