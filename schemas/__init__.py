"""Contracts shared by every Gridcase service: case states, events and API models."""
