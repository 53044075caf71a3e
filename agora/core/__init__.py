"""Cross-cutting pieces: time, tenancy, permissions, security headers, errors."""
