//! The runtime's own log: `--log FILE` with `--log-format text|json`, as runc writes it.
//!
//! containerd's shim passes `--log <file> --log-format json` and, when a command fails, shows the
//! `msg` of the last `"level":"error"` line to the user, so the error line must be exactly that shape.

use crate::timefmt::now_rfc3339;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

struct Logger {
    file: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the log destination once, at start-up. Without `--log` messages go to stderr
/// (errors are printed by the CLI itself, so only debug/warning lines are written there).
pub fn init(file: Option<PathBuf>, format: LogFormat, debug: bool) {
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
}

/// One log line in the configured format.
pub fn format_line(format: LogFormat, level: Level, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => {
            let v = serde_json::json!({"level": level.as_str(), "msg": msg, "time": time});
            format!("{v}\n")
        }
        LogFormat::Text => {
            format!(
                "time=\"{time}\" level={} msg={}\n",
                level.as_str(),
                quote_text(msg)
            )
        }
    }
}

/// logrus' text formatter quotes a value only when it has to.
fn quote_text(msg: &str) -> String {
    let plain = !msg.is_empty()
        && msg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if plain {
        msg.to_string()
    } else {
        format!("{msg:?}")
    }
}

/// Writes a message at `level`. Debug lines only with `--debug`. Never fails: a runtime must not
/// die because its log file is unwritable.
pub fn log(level: Level, msg: &str) {
    let Some(logger) = LOGGER.get() else { return };
    if level == Level::Debug && !logger.debug {
        return;
    }
    let line = format_line(logger.format, level, msg, &now_rfc3339());
    match &logger.file {
        Some(path) => {
            if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None => {
            if level != Level::Error {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }
}

pub fn debug(msg: &str) {
    log(Level::Debug, msg);
}

pub fn warn(msg: &str) {
    log(Level::Warning, msg);
}

pub fn error(msg: &str) {
    log(Level::Error, msg);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_line_is_what_containerd_parses() {
        let line = format_line(
            LogFormat::Json,
            Level::Error,
            "container \"x\" does not exist",
            "T",
        );
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist");
        assert_eq!(v["time"], "T");
    }

    #[test]
    fn text_line_quotes_only_when_needed() {
        assert_eq!(
            format_line(LogFormat::Text, Level::Info, "ok", "T"),
            "time=\"T\" level=info msg=ok\n"
        );
        assert_eq!(
            format_line(LogFormat::Text, Level::Error, "two words", "T"),
            "time=\"T\" level=error msg=\"two words\"\n"
        );
    }
}
