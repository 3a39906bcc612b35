"""Test doubles and synthetic data for thermograd's own tests and benchmarks (not a production path).

``toy``: an engine-free descriptor-linear pair potential, its descriptor spec and reference builder (campaigns
without LAMMPS). ``synthetic``: D-DOS data sets and models with known, analytic free energies.
"""
