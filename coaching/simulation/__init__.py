"""The coach's 30-day simulation (issue 16's proof): a scripted company replayed day by day
through the real CRM services and the real coach — event handling, scans, digests and email
delivery — with the clock moved by time_machine.

- config: the company's size, the personas and the office day's timetable;
- company: the company on day one, built in bulk through the CRM's building blocks;
- clock: simulated time and the coach's workers on the beat's cadence;
- people / acting: what each persona does, through crm.services and coaching's services;
- measure: open cards, pushes, digest lines, event → push minutes, patterns caught;
- engine: the day loop (`simulate`), in one transaction rolled back at the end;
- report: the figures as text and JSON, and issue 16's targets.

Run it with `manage.py coach_simulate` (`--small` for a tiny company) or `bench/simulate.py`.
"""
