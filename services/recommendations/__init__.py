"""The recommendations service: "bought together" and "popular" from confirmed orders."""
