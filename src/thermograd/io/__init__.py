"""File formats, depending on nothing in :mod:`thermograd.ddos`: the HDF5 storage layer (:mod:`.store`: format
registry, refusal of foreign/damaged/newer files, provenance, locks, atomic writes), the model file
(:mod:`.ddos_model`) and SNAP coefficient/parameter files (:mod:`.snap`). Importers that build D-DOS objects
from files live in :mod:`thermograd.ddos.importers`."""
