"""Towns, villages and their service stations: the places every other area refers to."""
