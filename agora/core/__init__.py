"""Cross-cutting pieces: time, permissions, security headers, errors: they know no feature."""
