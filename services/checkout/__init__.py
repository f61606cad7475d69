"""Checkout service: the saga that turns a cart into a paid order, or into nothing at all."""
