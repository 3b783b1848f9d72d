"""Retrieval keeps no tables of its own: tickets live in knowledge, the index in the bundle."""
