"""Demo data: a believable organisation for trying the portal out (`manage.py seed_demo`).

`catalogue` holds the fixed content (streams, teams, people's roles, objectives, criteria),
`flow` simulates the lives of backlog items in memory, and `builder` writes it all.
"""
