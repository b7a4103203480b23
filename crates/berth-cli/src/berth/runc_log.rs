//! berth's own log: `--log FILE` with `--log-format text|json`, as runc writes it, installed as
//! the `log` facade's logger. The libraries only call `log::debug!`/`log::warn!`; this is where
//! their records become runc's lines.
//!
//! containerd's shim passes `--log <file> --log-format json` and, when a command fails, shows the
//! `msg` of the last `"level":"error"` line to the user, so the error line must be exactly that shape.

use berth_runtime::now_rfc3339;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// runc's (logrus') name of a level; trace records are written as debug.
fn level_name(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug | log::Level::Trace => "debug",
    }
}

/// The `log::Log` behind `--log`/`--log-format`/`--debug`.
pub struct RuncLog {
    file: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

impl RuncLog {
    /// Installs the logger for the whole process, once, at start-up. Without `--log` lines go
    /// to stderr (errors are printed by the CLI itself, so only debug/warning lines are written
    /// there).
    pub fn install(file: Option<PathBuf>, format: LogFormat, debug: bool) -> &'static RuncLog {
        let logger: &'static RuncLog = Box::leak(Box::new(RuncLog {
            file,
            format,
            debug,
        }));
        if log::set_logger(logger).is_ok() {
            log::set_max_level(if debug {
                log::LevelFilter::Debug
            } else {
                log::LevelFilter::Info
            });
        }
        logger
    }

    /// Writes one line at `level`. Never fails: a runtime must not die because its log file is
    /// unwritable.
    pub fn write(&self, level: log::Level, msg: &str) {
        if level >= log::Level::Debug && !self.debug {
            return;
        }
        let line = format_line(self.format, level, msg, &now_rfc3339());
        match &self.file {
            Some(path) => {
                if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                if level != log::Level::Error {
                    let _ = std::io::stderr().write_all(line.as_bytes());
                }
            }
        }
    }
}

impl log::Log for RuncLog {
    /// Only berth's own crates write to runc's log; a dependency's records are not part of it.
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("berth")
            && (self.debug || metadata.level() < log::Level::Debug)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let msg = record.args().to_string();
        self.write(record.level(), &msg);
        if record.level() == log::Level::Warn && self.file.is_some() {
            // What the library warns about (a failed poststart/poststop hook) is also told to
            // the user on stderr when the log goes to a file; without `--log` the line above
            // already went there.
            let _ = writeln!(std::io::stderr(), "berth: warning: {msg}");
        }
    }

    fn flush(&self) {}
}

/// One log line in the configured format.
pub fn format_line(format: LogFormat, level: log::Level, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => {
            let v = serde_json::json!({"level": level_name(level), "msg": msg, "time": time});
            format!("{v}\n")
        }
        LogFormat::Text => {
            format!(
                "time=\"{time}\" level={} msg={}\n",
                level_name(level),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_line_is_what_containerd_parses() {
        let line = format_line(
            LogFormat::Json,
            log::Level::Error,
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
            format_line(LogFormat::Text, log::Level::Info, "ok", "T"),
            "time=\"T\" level=info msg=ok\n"
        );
        assert_eq!(
            format_line(LogFormat::Text, log::Level::Error, "two words", "T"),
            "time=\"T\" level=error msg=\"two words\"\n"
        );
        assert_eq!(
            format_line(LogFormat::Text, log::Level::Warn, "w", "T"),
            "time=\"T\" level=warning msg=w\n"
        );
    }
}
