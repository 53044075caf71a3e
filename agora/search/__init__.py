"""Full-text search across a person's spaces, in French, with Whoosh."""
