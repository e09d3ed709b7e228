"""One django-ninja router per resource the API serves: leads (with their hand-off), a lead's
activities, reports and the coach's nudges. api/api.py mounts them all at the API's root, so
each router spells its full paths.
"""
