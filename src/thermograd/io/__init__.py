"""File formats: SNAP coefficient/parameter files, HDF5 stores, importers."""
