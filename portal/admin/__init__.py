"""Town administration: the town, its villages, their service stations and opening hours."""
