//! Loading, validating and generating config.json.

/// The configuration `berth spec` writes: runc's defaults, with the cgroup namespace added (as runc 1.2 does).
pub const DEFAULT_CONFIG_JSON: &str = include_str!("default_config.json");
