"""The SearchIndex adapters: tantivy (local default) and OpenSearch (production)."""
