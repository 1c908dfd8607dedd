"""The web viewer for staff and the request API for agencies (FastAPI).

Routes call the domain layer in ``appliance``; they never run raw SQL or commit sessions.
"""
