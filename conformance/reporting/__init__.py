"""Turning a finished session into what people and CI read."""
