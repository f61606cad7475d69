"""The catalog service: categories, products, inventory with reservations, product images."""
