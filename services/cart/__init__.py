"""Cart service: guest and user carts on DynamoDB, with optimistic concurrency and catalog re-checks."""
