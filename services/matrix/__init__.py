"""The responsibility matrix (权责清单): category × area → departments, handling level, time limits."""
