//! The small string syntaxes of compose files: port mappings, mounts, durations,
//! command lines and env files.

use std::net::IpAddr;
use std::time::Duration;

use crate::ports::Port;

/// A short-syntax mount (`volumes: ["src:target:ro"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ShortMount {
    /// A host path (starts with `.`, `/` or `~`).
    Bind {
        host: String,
        target: String,
        read_only: bool,
    },
    /// A named volume.
    Named {
        volume: String,
        target: String,
        read_only: bool,
    },
    /// Only a target: a fresh anonymous volume.
    Anonymous { target: String },
}

/// `[[ip:]published:]target[/protocol]`; ports are published on `127.0.0.1` unless the
/// mapping names an address.
pub(crate) fn port(text: &str) -> Result<Port, String> {
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((spec, proto)) => (spec, proto),
        None => (text, "tcp"),
    };
    if spec.contains('-') || spec.contains('[') {
        return Err(format!(
            "port `{text}`: port ranges and IPv6 addresses are not supported"
        ));
    }
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let target = parse_port(parts[0], text)?;
    let mut port = match protocol {
        "tcp" => Port::tcp(target),
        "udp" => Port::udp(target),
        other => {
            return Err(format!(
                "port `{text}`: protocol `{other}` is not supported"
            ))
        }
    };
    if let Some(published) = parts.get(1).filter(|p| !p.is_empty()) {
        port = port.host_port(parse_port(published, text)?);
    }
    if let Some(ip) = parts.get(2) {
        port = port.host_ip(host_ip(ip)?);
    }
    Ok(port)
}

/// A `host_ip`: an IPv4 or IPv6 address.
pub(crate) fn host_ip(ip: &str) -> Result<IpAddr, String> {
    ip.parse()
        .map_err(|_| format!("`{ip}` is not an IP address to publish a port on"))
}

fn parse_port(number: &str, whole: &str) -> Result<u16, String> {
    number
        .parse()
        .map_err(|_| format!("port `{whole}`: `{number}` is not a port number"))
}

/// `target`, `source:target` or `source:target:mode` (`ro`/`rw`).
pub(crate) fn mount(text: &str) -> Result<ShortMount, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => {
            return Ok(ShortMount::Anonymous {
                target: (*target).to_owned(),
            })
        }
        [source, target] => (*source, *target, "rw"),
        [source, target, mode] => (*source, *target, *mode),
        _ => return Err(format!("volume `{text}`: expected `source:target[:ro]`")),
    };
    let read_only = match mode {
        "ro" => true,
        "rw" => false,
        other => {
            return Err(format!(
                "volume `{text}`: mode `{other}` is not supported (`ro`, `rw`)"
            ))
        }
    };
    let target = target.to_owned();
    Ok(if source.starts_with(['.', '/', '~']) {
        ShortMount::Bind {
            host: source.to_owned(),
            target,
            read_only,
        }
    } else {
        ShortMount::Named {
            volume: source.to_owned(),
            target,
            read_only,
        }
    })
}

/// A compose duration: `1m30s`, `500ms`, `10s`, `1h`, `2us`.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration (like `500ms`, `10s`, `1m30s`)");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(bad()),
        };
        total += Duration::from_secs_f64(value * seconds);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Splits a command line as a POSIX shell would (quotes and backslashes; no expansion).
pub(crate) fn split_command(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(format!("unclosed `'` in `{line}`")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => w.extend(chars.next()),
                        Some(c) => w.push(c),
                        None => return Err(format!("unclosed `\"` in `{line}`")),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// The `KEY=VALUE` lines of an env file (blank lines and `#` comments skipped, one pair
/// of surrounding quotes removed).
pub(crate) fn env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.strip_prefix("export ").unwrap_or(l))
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.trim().to_owned(), unquote(v.trim()).to_owned()),
            None => (l.to_owned(), std::env::var(l).unwrap_or_default()),
        })
        .collect()
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// Compose's variable interpolation over the file's text, from `lookup` (this
/// process's environment): `$$` is a `$`; `${VAR}`, `$VAR`, `${VAR:-default}` (unset
/// or empty), `${VAR-default}` (unset), `${VAR:?message}`/`${VAR?message}` (an error
/// when unset); an unset variable is empty. Any other `$` stays as it is.
pub(crate) fn interpolate(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(braced) = rest.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `${}`", first_line(braced)))?;
            out.push_str(&braced_value(&braced[..end], &lookup)?);
            rest = &braced[end + 1..];
        } else {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
                out.push('$');
            } else {
                out.push_str(&lookup(&rest[..len]).unwrap_or_default());
                rest = &rest[len..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn braced_value(expr: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let name_len = expr
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expr.len());
    let (name, op) = expr.split_at(name_len);
    let value = lookup(name);
    let set_non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    Ok(match op {
        "" => value.unwrap_or_default(),
        _ if op.starts_with(":-") => value
            .filter(|_| set_non_empty)
            .unwrap_or_else(|| op[2..].to_owned()),
        _ if op.starts_with('-') => value.unwrap_or_else(|| op[1..].to_owned()),
        _ if op.starts_with(":?") && !set_non_empty => {
            return Err(format!("variable `{name}` is required: {}", &op[2..]))
        }
        _ if op.starts_with('?') && value.is_none() => {
            return Err(format!("variable `{name}` is required: {}", &op[1..]))
        }
        _ if op.starts_with(":?") || op.starts_with('?') => value.unwrap_or_default(),
        _ => return Err(format!("unsupported interpolation `${{{expr}}}`")),
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_default_to_a_random_host_port_and_keep_a_named_address() {
        assert_eq!(port("80").unwrap(), Port::tcp(80));
        assert_eq!(port("8080:80").unwrap(), Port::tcp(80).host_port(8080));
        assert_eq!(
            port("0.0.0.0:8080:53/udp").unwrap(),
            Port::udp(53)
                .host_port(8080)
                .host_ip("0.0.0.0".parse().unwrap())
        );
        assert!(port("8000-8001:80-81").unwrap_err().contains("ranges"));
    }

    #[test]
    fn mounts_tell_binds_from_named_volumes() {
        assert_eq!(
            mount("./data:/data:ro").unwrap(),
            ShortMount::Bind {
                host: "./data".into(),
                target: "/data".into(),
                read_only: true
            }
        );
        assert_eq!(
            mount("db:/var/lib/db").unwrap(),
            ShortMount::Named {
                volume: "db".into(),
                target: "/var/lib/db".into(),
                read_only: false
            }
        );
        assert_eq!(
            mount("/cache").unwrap(),
            ShortMount::Anonymous {
                target: "/cache".into()
            }
        );
        assert!(mount("a:/b:z").is_err());
    }

    #[test]
    fn durations_add_their_units() {
        assert_eq!(duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(duration("soon").is_err());
    }

    #[test]
    fn command_lines_split_like_a_shell() {
        assert_eq!(
            split_command(r#"sh -c 'echo "a b"; exit 0' x\ y"#).unwrap(),
            ["sh", "-c", r#"echo "a b"; exit 0"#, "x y"]
        );
    }

    #[test]
    fn interpolation_follows_compose() {
        let env = |k: &str| match k {
            "SET" => Some("v".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let text = "$SET ${SET} ${EMPTY:-d} ${EMPTY-d} ${NOPE-d} $$SET $NOPE. $(x) $1";
        assert_eq!(interpolate(text, env).unwrap(), "v v d  d $SET . $(x) $1");
        assert!(interpolate("${NOPE:?set it}", env)
            .unwrap_err()
            .contains("set it"));
    }

    #[test]
    fn env_files_skip_comments_and_unquote() {
        assert_eq!(
            env_file("# c\nA=1\n\nexport B=\"two words\"\n"),
            [("A".into(), "1".into()), ("B".into(), "two words".into())]
        );
    }
}
