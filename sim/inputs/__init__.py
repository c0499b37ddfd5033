"""Inputs: configuration and the city's data, read from ``configs/`` and checked on load.

- ``base.py``      where ``configs/`` is (``CONFIG_DIR``) and the error a bad input raises (``ConfigError``)
- ``config.py``    scenario files, the parameter schema (``configs/parameters.toml``), ``Config``
- ``city.py``      the city's structure (``configs/city.toml``), the district raster and outlines
- ``paramdoc.py``  the parameter table as Markdown (``docs/parameters.md``)

The bottom room: every other room may import it, and it imports nothing of ``sim`` outside
``sim.inputs`` (within it: ``config`` -> ``city`` -> ``base``).
"""
