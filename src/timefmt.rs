//! RFC 3339 timestamps, filled in with the CLI.
