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
search_cli = AppGroup("search", help="The search index.")
notices_cli = AppGroup("notices", help="Policy notices.")
civility_cli = AppGroup("civility", help="Civility board jobs.")
dashboard_cli = AppGroup("dashboard", help="The public dashboard's figures.")
jobs_cli = AppGroup("jobs", help="The worker that sends messages and runs the periodic tasks.")
keys_cli = AppGroup("keys", help="The keys ID numbers are sealed with (README, \"Keys\").")


@jobs_cli.command("run")
@click.option("--workers", default=2, show_default=True, help="Worker threads.")
def jobs_run(workers):
    """Run every periodic task on its schedule and send messages, until Ctrl+C (or TERM)."""
    import logging

    from flask import current_app

    from portal.jobs import queue_of
    queue = queue_of(current_app._get_current_object())
    if queue is None:
        raise click.UsageError("JOBS_QUEUE is empty: set sqlite, memory or redis://…")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("huey").setLevel(logging.WARNING)  # not every minute's enqueueing
    click.echo(f"jobs worker: {workers} threads, queue {current_app.config['JOBS_QUEUE']}")
    from portal.civility import detect
    try:  # the face model, checked at start: a wrong file is said now, not at the first photo
        detect.check_model()
    except detect.DetectorUnavailable as error:
        logging.getLogger("portal.jobs").error("%s: moderators box faces by hand", error)
    queue.create_consumer(workers=workers, worker_type="thread", periodic=True,
                          scheduler_interval=1, check_worker_health=True).run()


@jobs_cli.command("once")
@click.argument("name")
def jobs_once(name):
    """Run one task now (a daily one for today's slot, whatever the hour), e.g. from cron
    instead of the worker; a slot the worker already ran is not run again."""
    from portal import jobs
    if name not in jobs.JOBS:
        raise click.UsageError(f"no task {name!r}; tasks: {', '.join(jobs.JOBS)}")
    record = jobs.run(name, any_hour=True)
    if record is None:
        click.echo(f"{name}: this slot has already been run")
    else:
        click.echo(f"{name} [{record.status}] {record.result}")
        raise SystemExit(0 if record.status == "ok" else 1)


@jobs_cli.command("list")
def jobs_list():
    """Each task: its schedule, last run and next run."""
    from portal import jobs
    from portal.timeutil import to_local
    for row in jobs.overview():
        job, last = row["job"], row["last"]
        when = f"daily {job.at:%H:%M}" if job.at else "every minute"
        done = f"{to_local(last.started_at):%Y-%m-%d %H:%M} {last.status}" if last else "never"
        click.echo(f"{job.name:20} {when:14} last: {done:24} next: "
                   f"{to_local(row['next']):%Y-%m-%d %H:%M}")


@click.command("backup")
@click.argument("folder", type=click.Path(file_okay=False))
def backup_command(folder):
    """Copy the database (consistently, while the portal serves), the uploads and a manifest
    into FOLDER (which must be new or empty)."""
    from pathlib import Path

    from portal import backup
    made = backup.make(Path(folder))
    click.echo(f"backup in {made.folder}: {made.summary}")


@click.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already has data.")
def restore_command(folder, force):
    """Restore a backup made by `backup`: checks every file, upgrades an older schema,
    puts back the uploads and rebuilds the search index."""
    from pathlib import Path

    from portal import backup
    try:
        click.echo(backup.restore(Path(folder), force=force))
    except backup.BackupRefused as refused:
        raise click.ClickException(str(refused)) from None


@search_cli.command("reindex")
def search_reindex():
    """Rebuild the index from the database (searches go on meanwhile), then switch to it."""
    import time

    from portal.search import service
    from portal.search.documents import PROVIDERS
    total = sum(db.session.scalar(select(db.func.count()).select_from(p.live().subquery()))
                for p in PROVIDERS.values())
    started = time.perf_counter()
    with click.progressbar(length=total, label="indexing") as bar:
        count = service.reindex(progress=bar.update)
    seconds = time.perf_counter() - started
    click.echo(f"indexed {count} documents in {seconds:.1f} s ({count / max(seconds, 1e-9):.0f}/s)")


@search_cli.command("verify")
def search_verify():
    """Report documents missing from, stale in or extra in the index; exit 1 if any."""
    from portal.database import read_transaction
    from portal.search import service
    with read_transaction():
        report = service.verify()
    for name in ("missing", "stale", "extra"):
        keys = getattr(report, name)
        click.echo(f"{name}: {len(keys)}" + (f"  e.g. {', '.join(keys[:10])}" if keys else ""))
    click.echo(f"queued changes not yet applied: {report.pending}")
    if report.unavailable:
        click.echo(f"index unavailable: {report.unavailable} (run `flask search reindex`)")
    if not report.dictionary_ok:
        click.echo("the index was built with another word list: run `flask search reindex`")
    click.echo("ok" if report.ok else "NOT OK")
    raise SystemExit(0 if report.ok else 1)


@search_cli.command("drain")
def search_drain():
    """Apply the queued index changes now (normally done after each change)."""
    from portal.search import service
    click.echo(f"applied {service.drain()} changes; {service.pending()} still queued")


@notices_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def notices_import(path):
    """Import notices from a JSON Lines file: published and searchable at once."""
    from portal.notices.importer import import_lines
    from portal.search import service
    with open(path, encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    with click.progressbar(length=len(lines), label="importing") as bar:
        outcome = import_lines(lines, progress=bar.update)
    for number, why in outcome.problems:
        click.echo(f"line {number}: {why} (skipped)", err=True)
    if outcome.imported:
        with click.progressbar(length=len(outcome.imported), label="indexing") as bar:
            try:
                service.index_bulk("notice", outcome.imported, progress=bar.update)
            except Exception as error:  # the queue still has them
                click.echo(f"indexing deferred ({error}); `flask search drain` applies it",
                           err=True)
    click.echo(f"imported {len(outcome.imported)} notices, skipped {len(outcome.problems)} lines")


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


@civility_cli.command("purge")
def civility_purge():
    """Delete the photos and positions of reports done with (run daily, e.g. from cron)."""
    from portal.civility.workflow import purge
    click.echo(f"purged the photos of {purge()} reports")


@keys_cli.command("rotate")
def keys_rotate():
    """A new current key in the key file; every ID number sealed again under it while the
    portal serves. Older keys stay (older backups need them) until `keys retire`."""
    from portal import sealing
    try:
        key_id, count = sealing.rotate()
    except sealing.KeysMissing as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"current key {key_id}; sealed {count} values again")


@keys_cli.command("retire")
def keys_retire():
    """Drop the keys no value is sealed under any more. Backups made before the last rotation
    then lose their ID numbers: keep a copy of the old key file with them if they matter."""
    from portal import sealing
    try:
        dropped = sealing.retire()
    except sealing.KeysMissing as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"dropped {len(dropped)} keys: {', '.join(dropped) or '-'}")


@keys_cli.command("check")
def keys_check():
    """How many values each key seals; fails when some cannot be opened (a lost key)."""
    from portal import sealing
    counts = sealing.usage()
    ring = sealing.keyring()
    for key_id, count in sorted(counts.items()):
        mark = " (current)" if key_id == ring.current else ""
        click.echo(f"{key_id}{mark}: {count}")
    if counts.get("?") or counts.get("plain"):
        raise click.ClickException(f"{counts.get('?', 0)} values under a lost key, "
                                   f"{counts.get('plain', 0)} not sealed")


@dashboard_cli.command("rollup")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Sum every day from this one to yesterday (default: the worker's recent days; "
                   "--all: the whole history).")
@click.option("--all", "whole", is_flag=True, help="Every day that has bookings.")
def dashboard_rollup(since, whole):
    """Sum bookings, ratings and follow-ups per station and day for the dashboard."""
    from datetime import timedelta

    from portal.dashboard import rollup
    from portal.timeutil import local_today
    today = local_today()
    if whole:
        written = rollup.everything(today)
    elif since:
        written = rollup.rollup(since.date(), today - timedelta(days=1), today)
    else:
        written = rollup.nightly(today)
    click.echo(f"summed {written} station-days, through {rollup.summed_through()}")


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
@click.option("--department", "department_id", type=int,
              help="Department id (required for department accounts).")
@click.option("--partner", "partner_id", type=int,
              help="Partner shop id (required for partner accounts).")
@click.password_option(help="Prompted for when not given.")
def create_user(roles, phone, name, station_id, department_id, partner_id, password):
    """Create a staff account, or add roles to an existing account with this phone number."""
    phone = v.normalise_phone(phone)
    for problem in (v.phone_problem(phone),
                    v.password_problem(password, phone=phone, name=name)):
        if problem:
            raise click.UsageError(str(problem))
    station = db.session.get(Station, station_id) if station_id else None
    if "clerk" in roles and station is None:
        raise click.UsageError("a clerk is bound to one station: give --station with its id")
    from portal.civility.models import Department
    department = db.session.get(Department, department_id) if department_id else None
    if "department" in roles and department is None:
        raise click.UsageError("a department account is bound to one department: give "
                               "--department with its id")
    from portal.points.models import Partner
    partner = db.session.get(Partner, partner_id) if partner_id else None
    if "partner" in roles and partner is None:
        raise click.UsageError("a partner account is bound to one partner shop: give --partner "
                               "with its id")
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = User(phone=phone, name=name)
        db.session.add(user)
    user.set_password(password)
    if station is not None:
        user.station = station
    if department is not None:
        user.department_id = department.id
    if partner is not None:
        user.partner_id = partner.id
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


@users_cli.command("coordinate")
@click.option("--phone", required=True, help="A coordinator's phone number.")
@click.option("--team", "teams", multiple=True, help="Volunteer team name; repeat for several.")
@click.option("--station", "stations", multiple=True,
              help="Volunteer station name; repeat for several.")
def coordinate(phone, teams, stations):
    """Let a coordinator act for more volunteer teams and stations (a coordinator also
    coordinates every team and station they set up themselves)."""
    from portal.volunteer.models import Coordination, Team, VolunteerStation
    user = db.session.scalar(select(User).where(User.phone == v.normalise_phone(phone)))
    if user is None or not user.has_role("coordinator"):
        raise click.UsageError("no coordinator with this phone number "
                               "(users create --role coordinator first)")
    wanted = [(Team, "team_id", name) for name in teams] + \
             [(VolunteerStation, "station_id", name) for name in stations]
    for model, column, name in wanted:
        found = db.session.scalar(select(model).where(model.name == name))
        if found is None:
            raise click.UsageError(f"no volunteer {model.__tablename__[10:-1]} named {name!r}")
        if db.session.scalar(select(Coordination).where(
                Coordination.user_id == user.id, getattr(Coordination, column) == found.id)) is None:
            db.session.add(Coordination(user_id=user.id, **{column: found.id}))
    db.session.commit()
    click.echo(f"{v.mask_phone(user.phone)} coordinates: " + ", ".join(
        name for _model, _column, name in wanted))


def register(app: Flask) -> None:
    app.cli.add_command(seed_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(bookings_cli)
    app.cli.add_command(search_cli)
    app.cli.add_command(notices_cli)
    app.cli.add_command(civility_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(dashboard_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
