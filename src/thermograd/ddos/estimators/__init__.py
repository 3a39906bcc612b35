"""thermograd.ddos.estimators."""
