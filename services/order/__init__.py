"""The order service: order lifecycle and history (the diagram's ORDER node)."""
