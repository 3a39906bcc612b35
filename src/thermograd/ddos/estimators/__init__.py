"""D-DOS free-energy routes, each speaking the one protocol of :mod:`thermograd.free_energy`: the score model
(:mod:`.model`; kernels in :mod:`.core`, :mod:`.conjugate`, :mod:`.fastpath`; fits in :mod:`.score`), shell
reweighting (:mod:`.reweighting`), the cumulant closure with the exact α integral and tilted MBAR
(:mod:`.cumulant`), the bootstrap of a model fit (:mod:`.uncertainty`), and the estimator a file serves
(:mod:`.from_file`)."""
