"""The app's routes, one module per area: login, queue, violation, evidence, admin."""
