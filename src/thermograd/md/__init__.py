"""Molecular dynamics for free energies: a batched torch Langevin engine, Hamiltonians H(λ), switching.

* :mod:`.engine`: :class:`BatchedLangevin` (BAOAB, many replicas in one batch, per-replica T and λ, centre of
  mass held, work in float64, seeded and resumable; NPT by stochastic cell rescaling) and :class:`MDState`.
* :mod:`.hamiltonians`: the batched :class:`Potential` and :class:`Hamiltonian` protocols and their analytic
  and LAMMPS implementations (MLIPs and alchemical paths are in :mod:`thermograd.alchemy.md`).
* :mod:`.switching`: the Freitas switching function and the forward/backward work estimators, shared with
  the LAMMPS drivers of :mod:`thermograd.ti`.
* :mod:`.frenkel_ladd`: Frenkel–Ladd free energies of any such model (per-site springs, replicas in one
  batch, NPT volume step).

This package sits below the workflows: it imports neither :mod:`thermograd.ti` nor
:mod:`thermograd.alchemy`.
"""
