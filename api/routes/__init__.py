"""HTTP routes, one module per area; each stays thin and calls ``api.store.queries`` or ``api.jobs``."""
