//! The command line of `testdock`, parsed by hand (no parser crate for every user of
//! this dev-dependency to build): commands, the selection options and their errors.

use std::fmt;

use testdock::prune::Selection;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Print the usage of everything (`None`) or of one command.
    Help(Option<Topic>),
    /// Print the version.
    Version,
    /// List the selected resources, as a table or as JSON.
    Ps {
        /// What to list.
        selection: Selection,
        /// JSON instead of a table.
        json: bool,
    },
    /// Remove the selected resources.
    Prune {
        /// What to remove.
        selection: Selection,
    },
}

/// A command with a usage of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    /// `testdock ps`.
    Ps,
    /// `testdock prune`.
    Prune,
}

impl Topic {
    fn named(name: &str) -> Option<Topic> {
        match name {
            "ps" => Some(Topic::Ps),
            "prune" => Some(Topic::Prune),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Topic::Ps => "ps",
            Topic::Prune => "prune",
        }
    }
}

/// A command line that makes no sense, as one line for standard error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn error<T>(message: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(message.into()))
}

/// Parses the arguments after the program's name.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return error("no command given");
    };
    match first.as_str() {
        "help" | "-h" | "--help" => help(args),
        "-V" | "--version" => match args.next() {
            None => Ok(Command::Version),
            Some(extra) => error(format!("unexpected argument `{extra}` after {first}")),
        },
        name => match Topic::named(name) {
            Some(topic) => command(topic, args.collect()),
            None if name.starts_with('-') => error(format!("unknown option `{name}`")),
            None => error(format!(
                "unknown command `{name}` (commands: ps, prune, help)"
            )),
        },
    }
}

/// `help [COMMAND]`.
fn help(mut args: impl Iterator<Item = String>) -> Result<Command, UsageError> {
    let topic = match args.next() {
        None => None,
        Some(name) => match Topic::named(&name) {
            Some(topic) => Some(topic),
            None => return error(format!("no help for `{name}` (commands: ps, prune)")),
        },
    };
    match args.next() {
        None => Ok(Command::Help(topic)),
        Some(extra) => error(format!("unexpected argument `{extra}` after help")),
    }
}

/// Which owners the selection starts from: at most one of `--stale`, `--kept`,
/// `--reused`, `--all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Stale,
    Kept,
    Reused,
    All,
}

impl Verdict {
    fn flag(self) -> &'static str {
        match self {
            Verdict::Stale => "--stale",
            Verdict::Kept => "--kept",
            Verdict::Reused => "--reused",
            Verdict::All => "--all",
        }
    }
}

/// The options of `ps` or `prune` (`--help` anywhere among them wins).
fn command(topic: Topic, args: Vec<String>) -> Result<Command, UsageError> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Command::Help(Some(topic)));
    }
    let mut verdict: Option<Verdict> = None;
    let mut test = None;
    let mut session = None;
    let mut json = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (option, inline) = match arg.split_once('=') {
            Some((option, value)) if option.starts_with("--") => (option, Some(value)),
            _ => (arg.as_str(), None),
        };
        let chosen = match option {
            "--stale" => Some(Verdict::Stale),
            "--kept" => Some(Verdict::Kept),
            "--reused" => Some(Verdict::Reused),
            "--all" => Some(Verdict::All),
            _ => None,
        };
        if let Some(chosen) = chosen {
            if inline.is_some() {
                return error(format!("{option} takes no value"));
            }
            match verdict {
                Some(earlier) if earlier != chosen => {
                    return error(format!(
                    "{} and {} cannot be combined: give one of --stale, --kept, --reused, --all",
                    earlier.flag(),
                    chosen.flag()
                ))
                }
                _ => verdict = Some(chosen),
            }
            continue;
        }
        match option {
            "--test" | "--session" => {
                let value = value_of(option, inline, &mut args)?;
                let slot = if option == "--test" {
                    &mut test
                } else {
                    &mut session
                };
                if slot.replace(value).is_some() {
                    return error(format!("{option} given twice"));
                }
            }
            "--json" if topic == Topic::Ps => {
                if inline.is_some() {
                    return error("--json takes no value");
                }
                json = true;
            }
            _ if option.starts_with('-') => {
                return error(format!("unknown option `{option}` for {}", topic.name()))
            }
            _ => return error(format!("unexpected argument `{arg}` for {}", topic.name())),
        }
    }
    let start = match (verdict, topic) {
        (Some(Verdict::Stale), _) | (None, Topic::Prune) => Selection::stale(),
        (Some(Verdict::Kept), _) => Selection::kept(),
        (Some(Verdict::Reused), _) => Selection::reused(),
        (Some(Verdict::All), _) | (None, Topic::Ps) => Selection::all(),
    };
    let selection = match test {
        Some(test) => start.test(test),
        None => start,
    };
    let selection = match session {
        Some(session) => selection.session(session),
        None => selection,
    };
    Ok(match topic {
        Topic::Ps => Command::Ps { selection, json },
        Topic::Prune => Command::Prune { selection },
    })
}

/// The value of `option`: after `=`, else the next argument (not an option).
fn value_of(
    option: &str,
    inline: Option<&str>,
    rest: &mut impl Iterator<Item = String>,
) -> Result<String, UsageError> {
    let what = if option == "--test" {
        "a test id"
    } else {
        "a session id"
    };
    let value = match inline {
        Some(value) => Some(value.to_owned()),
        None => rest.next(),
    };
    match value {
        Some(value) if !value.is_empty() && (inline.is_some() || !value.starts_with('-')) => {
            Ok(value)
        }
        _ => error(format!("{option} needs {what} (e.g. {option} <ID>)")),
    }
}

#[cfg(test)]
mod tests;
