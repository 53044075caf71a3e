"""Documents: folders, files with versions, trash, quotas, previews and attachments."""
