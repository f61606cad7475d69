"""Full-text search, facets and type-ahead over the catalog, kept in sync by its events."""
