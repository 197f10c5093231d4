"""The hub, preferences (language, elder mode), health check and the plain information pages."""
