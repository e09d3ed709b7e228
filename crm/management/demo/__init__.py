"""The demo company that `manage.py seed_demo` loads, by domain: the people and teams
(`people`), the words they write in their own language (`words`), the leads with their history
and activities (`leads`) and the reports with their answers (`reports`).

Rows are written in bulk for speed, with times spread over the last 90 days, but only in shapes
the services allow: stage changes follow the pipeline's transitions one step at a time, each
person writes in their own language, and leads in a manager's pool carry no notes, next steps
or activities (nobody has worked them yet). tests/crm/test_seed_demo.py checks the result
against those rules.
"""
