"""thermo."""
