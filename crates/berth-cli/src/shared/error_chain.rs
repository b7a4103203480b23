//! How both command lines print an error: the whole chain, `: `-separated, each cause once.
//!
//! The libraries keep a cause as `#[source]` rather than in their own message, but some
//! foreign errors (ureq's, for one) do format their cause into their text as well. A link
//! whose text (its own or reworded) the link above it already ends with is therefore skipped, so
//! nothing is told twice however the errors below were written.

use std::error::Error;

/// The chain of `e` as one line. `reword` may replace a link's text (the runtime CLI uses it
/// to say some errors in runc's words, which engines match); `None` keeps the link's own.
pub fn chain_text(
    e: &anyhow::Error,
    reword: impl Fn(&(dyn Error + 'static)) -> Option<String>,
) -> String {
    let mut text = String::new();
    let mut last = String::new();
    for link in e.chain() {
        let own = link.to_string();
        let t = reword(link).unwrap_or_else(|| own.clone());
        // The link above may have formatted this one in its own words or in the reworded ones.
        if !last.is_empty() && (last.ends_with(&t) || last.ends_with(&own)) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&t);
        last = t;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{fmt, io};

    /// An error that, like ureq's, prints its cause in its own text and also returns it as source.
    #[derive(Debug)]
    struct Loud(io::Error);
    impl fmt::Display for Loud {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "Connection Failed: {}", self.0)
        }
    }
    impl Error for Loud {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn every_cause_is_told_once() {
        let enoent = io::Error::from_raw_os_error(libc::ENOENT);
        let e = anyhow::Error::new(io::Error::from_raw_os_error(libc::ENOENT)).context("open x");
        assert_eq!(chain_text(&e, |_| None), format!("open x: {enoent}"));

        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let want = format!("pulling y: Connection Failed: {refused}");
        let e = anyhow::Error::new(Loud(refused)).context("pulling y");
        assert_eq!(chain_text(&e, |_| None), want);
    }

    #[test]
    fn a_reworded_link_replaces_its_text() {
        let e = anyhow::Error::new(io::Error::from_raw_os_error(libc::EPERM)).context("kill");
        let text = chain_text(&e, |link| {
            link.downcast_ref::<io::Error>()
                .map(|_| "operation not permitted".to_string())
        });
        assert_eq!(text, "kill: operation not permitted");
    }
}
