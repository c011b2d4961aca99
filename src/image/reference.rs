//! Image references as the Docker CLI reads them: `[host[:port]/]path[:tag][@digest]`.
//!
//! The first `/`-separated component is a registry host when it contains a `.` or a `:`,
//! is `localhost`, or has an upper-case letter; otherwise the image is on Docker Hub
//! (`docker.io`). Without a tag or a digest the tag is `latest`.

use std::fmt;

/// Docker Hub's canonical registry name.
pub(crate) const DOCKER_HUB: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    /// The registry host as written (`localhost:5000`), `None` for Docker Hub.
    pub(crate) host: Option<String>,
    /// The repository path (`library/redis` is written `redis`; kept as written).
    pub(crate) path: String,
    /// The tag, if one was written.
    pub(crate) tag: Option<String>,
    /// The digest (`sha256:…`), if one was written.
    pub(crate) digest: Option<String>,
}

impl Reference {
    /// Parses `text`, or says what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: String| Err(format!("`{text}` is not a valid image reference: {why}"));
        if text.is_empty() {
            return bad("it is empty".into());
        }
        if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return bad(format!("it contains {c:?}"));
        }
        let (name_tag, digest) = match text.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (text, None),
        };
        if let Some(digest) = digest {
            if let Err(why) = check_digest(digest) {
                return bad(why);
            }
        }
        let (host, rest) = match name_tag.split_once('/') {
            Some((first, rest)) if looks_like_host(first) => (Some(first), rest),
            _ => (None, name_tag),
        };
        if let Some(host) = host {
            if let Err(why) = check_host(host) {
                return bad(why);
            }
        }
        let (path, tag) = match rest.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p, Some(t)),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            if let Err(why) = check_tag(tag) {
                return bad(why);
            }
        }
        if let Err(why) = check_path(path) {
            return bad(why);
        }
        let full_name = host.map_or(0, |h| h.len() + 1) + path.len();
        if full_name > 255 {
            return bad("the name is longer than 255 characters".into());
        }
        Ok(Reference {
            host: host.map(str::to_owned),
            path: path.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// The registry, normalised: `docker.io` for Docker Hub (also when written as
    /// `index.docker.io` or `registry-1.docker.io`), else the host as written.
    pub(crate) fn registry(&self) -> &str {
        match self.host.as_deref() {
            None => DOCKER_HUB,
            Some(host) => normalize_registry(host),
        }
    }

    /// The name without tag or digest, as given to the daemon's `fromImage`.
    pub(crate) fn name(&self) -> String {
        match &self.host {
            Some(host) => format!("{host}/{}", self.path),
            None => self.path.clone(),
        }
    }

    /// What to pull: the digest if there is one, else the tag, else `latest` (the
    /// daemon would pull every tag of the repository if given none).
    pub(crate) fn pull_tag(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// Path and tag (or digest) as the registry knows the image: `library/redis:7`.
    pub(crate) fn in_registry(&self) -> String {
        let path = if self.host.is_none() && !self.path.contains('/') {
            format!("library/{}", self.path)
        } else {
            self.path.clone()
        };
        match &self.digest {
            Some(d) => format!("{path}@{d}"),
            None => format!("{path}:{}", self.pull_tag()),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Docker Hub's aliases become `docker.io`; other hosts are kept.
pub(crate) fn normalize_registry(host: &str) -> &str {
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
        other => other,
    }
}

fn looks_like_host(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.chars().any(|c| c.is_ascii_uppercase())
}

fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (addr, tail) = rest
            .split_once(']')
            .ok_or_else(|| format!("the registry host `{host}` lacks its closing `]`"))?;
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(format!("`{host}` is not a valid IPv6 registry address"));
        }
        match tail {
            "" => return Ok(()),
            t => ("", t.strip_prefix(':').unwrap_or("x")),
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (n, p),
            None => (host, ""),
        }
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !host.starts_with('[') && !name.split('.').all(label_ok) {
        return Err(format!("`{host}` is not a valid registry host"));
    }
    if host.contains(':') && !host.ends_with(']') && port.parse::<u16>().is_err() {
        return Err(format!(
            "the port of registry host `{host}` is not a number"
        ));
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the repository name is empty".into());
    }
    for component in path.split('/') {
        if component.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "repository names must be lower-case (`{component}`)"
            ));
        }
        if !path_component_ok(component) {
            return Err(format!(
                "`{component}` is not a valid repository name component (lower-case letters \
                 and digits, separated by `.`, `_`, `__` or dashes)"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn path_component_ok(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = component.chars().collect();
    let mut i = 0;
    let mut expect_alnum = true;
    while i < bytes.len() {
        if expect_alnum {
            if !alnum(bytes[i]) {
                return false;
            }
            while i < bytes.len() && alnum(bytes[i]) {
                i += 1;
            }
            expect_alnum = false;
        } else {
            let start = i;
            while i < bytes.len() && !alnum(bytes[i]) {
                i += 1;
            }
            let sep: String = bytes[start..i].iter().collect();
            let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
            if !ok {
                return false;
            }
            expect_alnum = true;
        }
    }
    !expect_alnum
}

/// `[\w][\w.-]{0,127}`
fn check_tag(tag: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok = tag.len() <= 128
        && tag.chars().next().is_some_and(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{tag}` is not a valid tag (letters, digits, `_`, `.` and `-`, at most 128, \
             not starting with `.` or `-`)"
        ))
    }
}

fn check_digest(digest: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "`{digest}` is not a valid digest (expected `sha256:` and 64 hex digits)"
        ))
    };
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return bad();
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
    let hex_ok = hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit());
    let sha256_ok = algorithm != "sha256"
        || (hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    if algorithm_ok && hex_ok && sha256_ok {
        Ok(())
    } else {
        bad()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:ca5a3a0b0d972ad16a59932aeacdcf2d208ee0a418085bcbe744b2c26a26c1af";

    fn parts(text: &str) -> (Option<String>, String, Option<String>, Option<String>) {
        let r = Reference::parse(text).unwrap_or_else(|e| panic!("{e}"));
        (r.host, r.path, r.tag, r.digest)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn docker_hub_names_have_no_host() {
        assert_eq!(parts("redis"), (None, "redis".into(), None, None));
        assert_eq!(parts("redis:7"), (None, "redis".into(), s("7"), None));
        assert_eq!(
            parts("user/repo:1.2-alpine"),
            (None, "user/repo".into(), s("1.2-alpine"), None)
        );
        let r = Reference::parse("redis").unwrap();
        assert_eq!(r.registry(), "docker.io");
        assert_eq!((r.name().as_str(), r.pull_tag()), ("redis", "latest"));
        assert_eq!(r.in_registry(), "library/redis:latest");
        assert_eq!(
            Reference::parse("user/repo").unwrap().in_registry(),
            "user/repo:latest"
        );
    }

    #[test]
    fn a_first_component_with_a_dot_a_colon_or_localhost_is_the_host() {
        assert_eq!(
            parts("localhost:5000/x"),
            (s("localhost:5000"), "x".into(), None, None)
        );
        assert_eq!(
            parts("127.0.0.1:5000/a/b:1"),
            (s("127.0.0.1:5000"), "a/b".into(), s("1"), None)
        );
        assert_eq!(
            parts("localhost/x:2"),
            (s("localhost"), "x".into(), s("2"), None)
        );
        assert_eq!(
            parts("ghcr.io/org/team/app:v1"),
            (s("ghcr.io"), "org/team/app".into(), s("v1"), None)
        );
        assert_eq!(
            parts("[::1]:5000/x:1"),
            (s("[::1]:5000"), "x".into(), s("1"), None)
        );
        let r = Reference::parse("127.0.0.1:5000/a/b:1").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.name(), "127.0.0.1:5000/a/b");
        assert_eq!(r.in_registry(), "a/b:1");
        assert_eq!(r.to_string(), "127.0.0.1:5000/a/b:1");
    }

    #[test]
    fn docker_hub_aliases_normalise_to_docker_io() {
        for text in [
            "docker.io/library/redis:7",
            "index.docker.io/redis",
            "registry-1.docker.io/x/y",
        ] {
            assert_eq!(
                Reference::parse(text).unwrap().registry(),
                "docker.io",
                "{text}"
            );
        }
    }

    #[test]
    fn digests_are_pulled_by_digest_even_with_a_tag() {
        let text = format!("redis@{SHA}");
        assert_eq!(parts(&text), (None, "redis".into(), None, s(SHA)));
        let text = format!("localhost:5000/x:1@{SHA}");
        let r = Reference::parse(&text).unwrap();
        assert_eq!(
            (r.host.as_deref(), r.tag.as_deref(), r.pull_tag()),
            (Some("localhost:5000"), Some("1"), SHA)
        );
        assert_eq!(r.in_registry(), format!("x@{SHA}"));
        assert_eq!(r.to_string(), text);
    }

    #[test]
    fn invalid_references_say_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("redis 7", "contains ' '"),
            ("Redis", "lower-case"),
            ("localhost:5000/Repo", "lower-case"),
            ("redis:", "not a valid tag"),
            ("redis:-x", "not a valid tag"),
            ("redis@sha256:abc", "not a valid digest"),
            ("redis@md5", "not a valid digest"),
            ("a..b", "not a valid repository name component"),
            ("a/", "not a valid repository name component"),
            ("host:port/x", "port of registry host"),
            ("bad_host.io/x", "not a valid registry host"),
            ("localhost:5000/", "repository name"),
        ];
        for (text, expected) in cases {
            let err = Reference::parse(text).expect_err(text);
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(err.contains(&format!("`{text}`")), "{err}");
        }
    }

    #[test]
    fn separators_in_path_components_follow_the_grammar() {
        for ok in ["a.b", "a_b", "a__b", "a-b", "a---b", "a1.b2_c3"] {
            assert!(path_component_ok(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a._b", "a___b", "_a", "a.", "A"] {
            assert!(!path_component_ok(bad), "{bad}");
        }
    }
}
