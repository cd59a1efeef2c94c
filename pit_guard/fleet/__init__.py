"""Fleet audits: many repositories (local, remote, whole GitHub/GitLab organisations) in one report,
incremental re-scans kept in SQLite, and shards that merge into the single run's report."""
