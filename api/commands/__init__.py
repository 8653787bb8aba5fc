"""Sub-commands of `partnership`, one module per area; `api.cli` assembles them."""
