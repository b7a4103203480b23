//! HTTP proxies as Go's net/http takes them from the environment (podman's and skopeo's
//! behaviour): the https proxy for `https://` requests, the http proxy for `http://` ones,
//! none for `localhost` and loopback addresses or for what the no-proxy list names. The
//! caller reads the variables; ureq talks to the proxy (CONNECT for HTTPS, absolute-form
//! requests for plain HTTP).

use crate::error::{ImageError, ProxyError, Result};
use std::net::IpAddr;
use std::sync::Arc;

/// Proxy settings, as `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` give them. Construct with
/// `default()` and set what is needed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxySettings {
    /// The proxy for plain-HTTP requests: `[http://][USER:PASS@]HOST[:PORT]`.
    pub http_proxy: Option<String>,
    /// The proxy for HTTPS requests (reached over plain HTTP, tunnelled with CONNECT).
    pub https_proxy: Option<String>,
    /// Hosts reached directly: comma-separated `*`, IP addresses, CIDR ranges and domain
    /// names (a name matches itself and its subdomains, `.NAME` only the subdomains), each
    /// optionally with `:PORT`.
    pub no_proxy: Option<String>,
}

/// One entry of the no-proxy list.
#[derive(Debug, PartialEq)]
enum Rule {
    All,
    Ip(IpAddr, Option<u16>),
    Cidr(IpAddr, u8),
    /// A domain name, lower-case; `subdomains_only` for the `.NAME` form.
    Domain {
        name: String,
        subdomains_only: bool,
        port: Option<u16>,
    },
}

fn parse_rules(s: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    for e in s.split(',').map(|e| e.trim().to_ascii_lowercase()) {
        if e.is_empty() {
            continue;
        }
        if e == "*" {
            out.push(Rule::All);
            continue;
        }
        if let Some((ip, bits)) = e.split_once('/') {
            if let (Ok(ip), Ok(bits)) = (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
                out.push(Rule::Cidr(ip, bits));
            }
            continue;
        }
        if let Ok(ip) = e.trim_start_matches('[').trim_end_matches(']').parse() {
            out.push(Rule::Ip(ip, None));
            continue;
        }
        let (host, port) = split_port(&e);
        if let Ok(ip) = host.parse() {
            out.push(Rule::Ip(ip, port));
            continue;
        }
        let host = host.strip_prefix('*').unwrap_or(host);
        let (name, subdomains_only) = match host.strip_prefix('.') {
            Some(n) => (n, true),
            None => (host, false),
        };
        if !name.is_empty() {
            out.push(Rule::Domain {
                name: name.to_string(),
                subdomains_only,
                port,
            });
        }
    }
    out
}

/// Splits `HOST[:PORT]` (`[V6]:PORT` too); the brackets of an IPv6 host are dropped.
fn split_port(s: &str) -> (&str, Option<u16>) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((h, after)) = rest.split_once(']') {
            return (h, after.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (s, None),
        },
        _ => (s, None),
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// Whether a request to `host` (lower-case, no brackets) on `port` goes through the proxy.
fn use_proxy(rules: &[Rule], host: &str, port: u16) -> bool {
    if host == "localhost" {
        return false;
    }
    let ip = host.parse::<IpAddr>().ok();
    if ip.is_some_and(|ip| ip.is_loopback()) {
        return false;
    }
    !rules.iter().any(|r| match r {
        Rule::All => true,
        Rule::Ip(a, p) => Some(*a) == ip && p.is_none_or(|p| p == port),
        Rule::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
        Rule::Domain {
            name,
            subdomains_only,
            port: p,
        } => {
            p.is_none_or(|p| p == port)
                && (host
                    .strip_suffix(name.as_str())
                    .is_some_and(|sub| sub.ends_with('.'))
                    || (!subdomains_only && host == name))
        }
    })
}

/// The ureq agents a registry client needs: direct, and one per configured proxy.
pub(crate) struct Agents {
    direct: ureq::Agent,
    http: Option<std::result::Result<ureq::Agent, ProxyError>>,
    https: Option<std::result::Result<ureq::Agent, ProxyError>>,
    rules: Vec<Rule>,
}

/// A ureq proxy for `spec` (`[http://][USER:PASS@]HOST[:PORT]`, port 80 by default).
fn proxy(spec: &str) -> std::result::Result<ureq::Proxy, ProxyError> {
    let spec = spec.trim();
    let rest = match spec.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) => {
            return Err(ProxyError::Scheme {
                proxy: spec.to_string(),
                scheme: scheme.to_string(),
            })
        }
        None => spec,
    };
    ureq::Proxy::new(format!("http://{}", rest.trim_end_matches('/'))).map_err(|e| {
        ProxyError::Address {
            proxy: spec.to_string(),
            cause: Arc::new(e),
        }
    })
}

impl Agents {
    /// Agents from `build` (the common settings), with the proxies of `p`.
    pub(crate) fn new(build: impl Fn() -> ureq::AgentBuilder, p: &ProxySettings) -> Agents {
        let with = |spec: &Option<String>| {
            spec.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| proxy(s).map(|px| build().proxy(px).build()))
        };
        Agents {
            direct: build().build(),
            http: with(&p.http_proxy),
            https: with(&p.https_proxy),
            rules: p.no_proxy.as_deref().map(parse_rules).unwrap_or_default(),
        }
    }

    /// The agent for a request to `url`.
    pub(crate) fn for_url(&self, url: &str) -> Result<&ureq::Agent> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        let https = scheme.eq_ignore_ascii_case("https");
        let proxied = if https { &self.https } else { &self.http };
        let Some(agent) = proxied else {
            return Ok(&self.direct);
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let authority = authority.to_ascii_lowercase();
        let (host, port) = split_port(&authority);
        let port = port.unwrap_or(if https { 443 } else { 80 });
        if !use_proxy(&self.rules, host, port) {
            return Ok(&self.direct);
        }
        agent.as_ref().map_err(|e| ImageError::Proxy(e.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_as_go_reads_it() {
        let rules = parse_rules(
            " Example.COM, .sub.test ,10.1.0.0/16, 192.0.2.7:8080, [::2], *.star.test, ,",
        );
        let via = |h: &str, p: u16| use_proxy(&rules, h, p);
        // Never proxied: localhost and loopback addresses.
        assert!(!via("localhost", 5000));
        assert!(!via("127.0.0.2", 5000));
        assert!(!via("::1", 443));
        // A name matches itself and its subdomains; .NAME and *.NAME only subdomains.
        assert!(!via("example.com", 443));
        assert!(!via("reg.example.com", 443));
        assert!(via("notexample.com", 443));
        assert!(via("sub.test", 443));
        assert!(!via("a.sub.test", 443));
        assert!(via("star.test", 443));
        assert!(!via("a.star.test", 443));
        // CIDR, IP with a port, IPv6.
        assert!(!via("10.1.200.3", 80));
        assert!(via("10.2.0.1", 80));
        assert!(!via("192.0.2.7", 8080));
        assert!(via("192.0.2.7", 443));
        assert!(!via("::2", 443));
        assert!(via("198.51.100.1", 443));
        assert!(!use_proxy(&parse_rules("*"), "any.example", 443));
    }

    #[test]
    fn the_agent_follows_the_scheme_and_the_list() {
        let tls = crate::source::tls::client_config(&Default::default()).unwrap();
        let build = || ureq::AgentBuilder::new().tls_config(tls.clone());
        let mut p = ProxySettings {
            http_proxy: Some("proxy.example:3128".into()),
            https_proxy: None,
            no_proxy: Some("direct.example".into()),
        };
        let a = Agents::new(build, &p);
        let is_direct = |a: &Agents, url: &str| std::ptr::eq(a.for_url(url).unwrap(), &a.direct);
        assert!(!is_direct(&a, "http://reg.example/v2/"));
        assert!(is_direct(&a, "https://reg.example/v2/"));
        assert!(is_direct(&a, "http://direct.example:5000/v2/"));
        assert!(is_direct(&a, "http://127.0.0.1:5000/v2/"));
        p.https_proxy = Some("socks5://proxy.example:1080".into());
        let a = Agents::new(build, &p);
        let e = a.for_url("https://reg.example/v2/").err().unwrap();
        assert!(
            e.to_string()
                .contains("socks5:// proxies are not supported"),
            "{e}"
        );
        // Not used for this registry: not an error.
        assert!(is_direct(&a, "https://direct.example/v2/"));
    }
}
