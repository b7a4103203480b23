//! Runtime log (`--log`, `--log-format`), filled in with the CLI.
