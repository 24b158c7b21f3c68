"""The panels of the main window; each is a view of the session (see app.session)."""
