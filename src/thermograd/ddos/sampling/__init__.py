"""thermograd.ddos.sampling."""
