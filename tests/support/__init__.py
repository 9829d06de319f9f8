"""What the tests share: helpers, the faulty Space, the guard check (``python -m support.guards``)."""
