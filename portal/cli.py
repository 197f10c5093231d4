"""Command line: `flask --app wsgi seed demo`, `flask --app wsgi users create --role ROLE …`."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from portal.accounts import validation as v
from portal.accounts.models import ROLES, LoginSession, User, UserRole
from portal.extensions import db
from portal.places.models import Station

seed_cli = AppGroup("seed", help="Load data.")
users_cli = AppGroup("users", help="Manage accounts.")
bookings_cli = AppGroup("bookings", help="Booking jobs.")


@bookings_cli.command("remind")
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Whose bookings to remind (default: tomorrow). Run daily, e.g. from cron.")
def remind(day):
    """Send the day-before reminders (each booking is reminded once)."""
    from datetime import timedelta

    from portal.booking.service import send_reminders
    from portal.timeutil import local_today
    target = day.date() if day else local_today() + timedelta(days=1)
    click.echo(f"reminded {send_reminders(target)} bookings for {target.isoformat()}")


@seed_cli.command("demo")
def seed_demo_command():
    """Load the demo town, stations and accounts (safe to run again)."""
    from portal.seed import seed_demo
    summary = seed_demo()
    click.echo(f"demo data ready: {summary}")


@users_cli.command("create")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="Staff role; repeat for several.")
@click.option("--phone", required=True, help="Mainland mobile number (the login name).")
@click.option("--name", required=True)
@click.option("--station", "station_id", type=int, help="Station id (required for clerks).")
@click.password_option(help="Prompted for when not given.")
def create_user(roles, phone, name, station_id, password):
    """Create a staff account, or add roles to an existing account with this phone number."""
    phone = v.normalise_phone(phone)
    for problem in (v.phone_problem(phone),
                    v.password_problem(password, phone=phone, name=name)):
        if problem:
            raise click.UsageError(str(problem))
    station = db.session.get(Station, station_id) if station_id else None
    if "clerk" in roles and station is None:
        raise click.UsageError("a clerk is bound to one station: give --station with its id")
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = User(phone=phone, name=name)
        db.session.add(user)
    user.set_password(password)
    if station is not None:
        user.station = station
    for role in set(roles) - user.roles:
        user.role_rows.append(UserRole(role=role))
    db.session.commit()
    click.echo(f"user {user.id} {v.mask_phone(phone)} roles: {', '.join(sorted(user.roles))}")


@users_cli.command("set-password")
@click.option("--phone", required=True)
@click.password_option(help="Prompted for when not given.")
def set_password(phone, password):
    """Reset an account's password (a resident who forgot it, identified at the centre)."""
    phone = v.normalise_phone(phone)
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        raise click.UsageError("no account with this phone number")
    problem = v.password_problem(password, phone=phone, name=user.name)
    if problem:
        raise click.UsageError(str(problem))
    user.set_password(password)
    db.session.execute(db.delete(LoginSession).where(LoginSession.user_id == user.id))
    db.session.commit()
    click.echo(f"password set for {v.mask_phone(phone)}; all its sessions ended")


def register(app: Flask) -> None:
    app.cli.add_command(seed_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(bookings_cli)
