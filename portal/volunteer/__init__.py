"""Volunteer sign-up: activities, hours, star levels, micro-wishes and service orders."""
