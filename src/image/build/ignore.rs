//! `.dockerignore` rules, applied as the Docker CLI applies them when it sends a
//! directory as a build context.
//!
//! - Each line is trimmed; a line starting with `#` is a comment; blank lines are skipped.
//! - `!` makes the line an exception (it re-includes what earlier lines excluded).
//! - The pattern is cleaned like Go's `filepath.Clean` (`./a//b/` is `a/b`, `a/../b` is
//!   `b`) and a leading `/` is dropped: the context root is both `/` and `.`.
//! - Globs follow Go's `filepath.Match`: `*` is any run of characters except `/`, `?` one
//!   character except `/`, `[a-z]` / `[^a-z]` a class, `\` escapes the next character.
//!   `**` matches any number of directories, none included (`**/*.log`, `a/**/b`), and a
//!   trailing `**` matches everything below.
//! - A pattern applies to a path when it matches the path or one of its parent
//!   directories (`node_modules` excludes everything below it). The last matching line
//!   decides.
//!
//! No crate implements these rules (the `ignore` crate implements `.gitignore`, where an
//! unanchored `*.log` matches at any depth; in a `.dockerignore` it matches at the root
//! only), so they are implemented here as small pure functions.

/// The parsed lines of a `.dockerignore` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IgnoreRules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// The cleaned pattern text, without `!`.
    text: String,
    tokens: Vec<Token>,
    exception: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: one character other than `/`.
    AnyChar,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**` followed by more pattern: nothing, or anything ending with `/`.
    AnyDirs,
    /// `**` at the end: anything.
    AnyRest,
    /// `[...]`: one character in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl IgnoreRules {
    /// Parses the text of a `.dockerignore` file; the error names the bad line.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_start_matches('\u{feff}');
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if pattern.is_empty() {
                return Err(format!(
                    "line {}: `!` alone is not a pattern; write `!path` to re-include `path`",
                    number + 1
                ));
            }
            let text = clean_pattern(pattern);
            let tokens =
                tokenize(&text).map_err(|e| format!("line {} (`{line}`): {e}", number + 1))?;
            rules.push(Rule {
                text,
                tokens,
                exception,
            });
        }
        Ok(IgnoreRules { rules })
    }

    /// Whether `path` (relative to the context root, `/`-separated) is excluded.
    pub(crate) fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if rule.matches_or_parent_matches(path) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// Whether an exception could re-include something below the excluded directory
    /// `dir`; if not, the directory is not walked at all (as the Docker CLI does).
    pub(crate) fn may_reinclude_below(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.rules
            .iter()
            .any(|r| r.exception && format!("{}/", r.text).starts_with(&prefix))
    }
}

impl Rule {
    fn matches_or_parent_matches(&self, path: &str) -> bool {
        if glob_match(&self.tokens, path) {
            return true;
        }
        path.match_indices('/')
            .any(|(i, _)| glob_match(&self.tokens, &path[..i]))
    }
}

/// Cleans a pattern as Go's `filepath.Clean` does and drops a leading `/`.
fn clean_pattern(pattern: &str) -> String {
    let rooted = pattern.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(last) if *last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, true) => "/".to_owned(),
        (false, true) => ".".to_owned(),
        _ => joined,
    }
}

fn tokenize(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                tokens.push(if i == chars.len() {
                    Token::AnyRest
                } else {
                    Token::AnyDirs
                });
                continue;
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::AnyChar),
            '\\' if i + 1 < chars.len() => {
                i += 1;
                tokens.push(Token::Literal(chars[i]));
            }
            '[' => {
                let (class, next) = parse_class(&chars, i + 1)?;
                tokens.push(class);
                i = next;
                continue;
            }
            c => tokens.push(Token::Literal(c)),
        }
        i += 1;
    }
    Ok(tokens)
}

/// Parses a class whose content starts at `start`; returns it and the index after `]`.
fn parse_class(chars: &[char], start: usize) -> Result<(Token, usize), String> {
    let mut i = start;
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let one = |i: &mut usize| -> Result<char, String> {
        let c = match chars.get(*i) {
            Some('\\') => {
                *i += 1;
                chars.get(*i).copied()
            }
            c => c.copied(),
        };
        *i += 1;
        c.ok_or_else(|| "unterminated `[` class".to_owned())
    };
    loop {
        match chars.get(i) {
            None => return Err("unterminated `[` class".to_owned()),
            // A `]` right after `[` (or `[^`) is a member, not the end.
            Some(']') if !ranges.is_empty() => break,
            _ => {}
        }
        let low = one(&mut i)?;
        let high = if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            i += 1;
            one(&mut i)?
        } else {
            low
        };
        if high < low {
            return Err(format!("the class range `{low}-{high}` runs backwards"));
        }
        ranges.push((low, high));
    }
    Ok((Token::Class { negated, ranges }, i + 1))
}

/// Whether `tokens` match the whole of `text`.
fn glob_match(tokens: &[Token], text: &str) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return text.is_empty();
    };
    let mut chars = text.chars();
    match first {
        Token::Literal(want) => chars.next() == Some(*want) && glob_match(rest, chars.as_str()),
        Token::AnyChar => {
            chars.next().is_some_and(|c| c != '/') && glob_match(rest, chars.as_str())
        }
        Token::Class { negated, ranges } => chars.next().is_some_and(|c| {
            ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
                && glob_match(rest, chars.as_str())
        }),
        Token::Star => {
            let end = text.find('/').unwrap_or(text.len());
            text.char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .take_while(|i| *i <= end)
                .any(|i| glob_match(rest, &text[i..]))
        }
        Token::AnyDirs => {
            glob_match(rest, text)
                || text
                    .match_indices('/')
                    .any(|(i, _)| glob_match(rest, &text[i + 1..]))
        }
        Token::AnyRest => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text).unwrap()
    }

    #[test]
    fn patterns_are_cleaned_and_anchored_at_the_root() {
        assert_eq!(clean_pattern("/foo/bar"), "foo/bar");
        assert_eq!(clean_pattern("./a//b/"), "a/b");
        assert_eq!(clean_pattern("a/../b"), "b");
        assert_eq!(clean_pattern("../x"), "../x");
        assert_eq!(clean_pattern("/../x"), "x");
        let r = rules("/foo/bar\n*.log\n");
        assert!(r.excludes("foo/bar"));
        assert!(r.excludes("app.log"));
        assert!(
            !r.excludes("sub/app.log"),
            "unlike .gitignore, *.log is rooted"
        );
        assert!(!r.excludes("foo"));
    }

    #[test]
    fn star_and_question_mark_stop_at_slashes() {
        let r = rules("*/temp*\ntemp?\n");
        assert!(r.excludes("a/temporary"));
        assert!(!r.excludes("a/b/temporary"));
        assert!(r.excludes("temp1"));
        assert!(!r.excludes("temp12"));
        assert!(!r.excludes("tem/1"));
    }

    #[test]
    fn double_star_matches_any_number_of_directories() {
        let r = rules("**/*.go\n");
        assert!(r.excludes("main.go"));
        assert!(r.excludes("a/b/c/main.go"));
        assert!(!r.excludes("main.rs"));
        let r = rules("a/**/b\n");
        assert!(r.excludes("a/b"));
        assert!(r.excludes("a/x/y/b"));
        assert!(!r.excludes("a/x/c"));
        let r = rules("build/**\n");
        assert!(r.excludes("build/x/y"));
    }

    #[test]
    fn a_matching_parent_directory_excludes_everything_below_it() {
        let r = rules("node_modules\n");
        assert!(r.excludes("node_modules"));
        assert!(r.excludes("node_modules/x/index.js"));
        assert!(!r.excludes("src/node_modules_list.txt"));
    }

    #[test]
    fn exceptions_re_include_and_the_last_match_wins() {
        let r = rules("*.md\n!README.md\n");
        assert!(r.excludes("CHANGES.md"));
        assert!(!r.excludes("README.md"));
        let r = rules("!README.md\n*.md\n");
        assert!(
            r.excludes("README.md"),
            "a later line overrides the exception"
        );
        let r = rules("docs\n!docs/keep.txt\n");
        assert!(r.excludes("docs/other.txt"));
        assert!(!r.excludes("docs/keep.txt"));
        assert!(r.may_reinclude_below("docs"));
        assert!(!r.may_reinclude_below("src"));
        assert!(!rules("docs\n").may_reinclude_below("docs"));
    }

    #[test]
    fn comments_blank_lines_classes_and_escapes() {
        let r = rules("# comment\n\n   \n  spaced.txt  \nfile[0-9].txt\n[^a]x\n\\*lit\n");
        assert!(r.excludes("spaced.txt"));
        assert!(!r.excludes("# comment"));
        assert!(r.excludes("file7.txt"));
        assert!(!r.excludes("fileA.txt"));
        assert!(r.excludes("bx"));
        assert!(!r.excludes("ax"));
        assert!(r.excludes("*lit"));
        assert!(!r.excludes("xlit"));
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        let err = IgnoreRules::parse("ok\n!\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        let err = IgnoreRules::parse("a[bc\n").unwrap_err();
        assert!(
            err.contains("line 1") && err.contains("unterminated"),
            "{err}"
        );
        let err = IgnoreRules::parse("[z-a]\n").unwrap_err();
        assert!(err.contains("backwards"), "{err}");
    }
}
