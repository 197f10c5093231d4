"""The shared touch screen at a station: large targets, idle reset, nothing kept."""
