"""Village-to-village booking: the 47+N catalogue, slots by channel, bookings and their events."""
