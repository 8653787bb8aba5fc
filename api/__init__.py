"""How people reach the classifier: the `partnership` CLI, the HTTP service, pages and batch jobs."""
