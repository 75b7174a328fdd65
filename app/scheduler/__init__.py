"""The scheduler: the one table of scheduled jobs (table.py), run by one process (`flask scheduler run`,
cli.py and process.py), never inside web workers; the leader lease (lease.py) keeps a second process
started by mistake idle.

It sits above every domain it schedules (docs/architecture.md): each domain's scheduled work is in its
own jobs.py, plain functions that each run as one unit of work; the scheduler only says when.
"""
