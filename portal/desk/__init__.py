"""The clerk's desk. For now: the home-visit requests of the clerk's station (the queue,
check-in and the rest of the desk workflow build on this blueprint)."""
