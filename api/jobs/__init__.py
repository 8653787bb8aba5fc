"""Work the service does besides answering: the intake of one document, and retraining in the background."""
