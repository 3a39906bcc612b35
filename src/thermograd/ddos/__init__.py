"""ddos."""
