"""One account for everything: residents register here; staff are residents with roles."""
