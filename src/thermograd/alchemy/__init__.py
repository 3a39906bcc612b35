"""alchemy."""
