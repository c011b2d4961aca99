//! Unit tests of the command line: every command, option and mistake (no daemon).

use super::*;

fn parsed(line: &str) -> Result<Command, UsageError> {
    parse(line.split_whitespace().map(str::to_owned))
}

fn fails_with(line: &str, words: &str) {
    match parsed(line) {
        Err(e) => assert!(e.to_string().contains(words), "`{line}`: {e}"),
        Ok(command) => panic!("`{line}` parsed as {command:?}"),
    }
}

#[test]
fn help_in_every_spelling() {
    for line in ["help", "--help", "-h"] {
        assert_eq!(parsed(line), Ok(Command::Help(None)), "{line}");
    }
    for line in [
        "help ps",
        "ps --help",
        "ps -h",
        "--help ps",
        "ps --all --json -h",
    ] {
        assert_eq!(parsed(line), Ok(Command::Help(Some(Topic::Ps))), "{line}");
    }
    for line in ["help prune", "prune --help", "prune --bogus --help"] {
        assert_eq!(
            parsed(line),
            Ok(Command::Help(Some(Topic::Prune))),
            "{line}"
        );
    }
    fails_with("help frobnicate", "no help for `frobnicate`");
    fails_with("help ps prune", "unexpected argument `prune`");
}

#[test]
fn version() {
    assert_eq!(parsed("--version"), Ok(Command::Version));
    assert_eq!(parsed("-V"), Ok(Command::Version));
    fails_with("--version ps", "unexpected argument `ps`");
}

#[test]
fn ps_lists_everything_by_default_and_prune_only_stale() {
    assert_eq!(
        parsed("ps"),
        Ok(Command::Ps {
            selection: Selection::all(),
            json: false
        })
    );
    assert_eq!(
        parsed("prune"),
        Ok(Command::Prune {
            selection: Selection::stale()
        })
    );
}

#[test]
fn verdicts() {
    let prune = |selection| Ok(Command::Prune { selection });
    assert_eq!(parsed("prune --stale"), prune(Selection::stale()));
    assert_eq!(parsed("prune --kept"), prune(Selection::kept()));
    assert_eq!(parsed("prune --reused"), prune(Selection::reused()));
    assert_eq!(parsed("prune --all"), prune(Selection::all()));
    assert_eq!(parsed("prune --all --all"), prune(Selection::all()));
    assert_eq!(
        parsed("ps --stale"),
        Ok(Command::Ps {
            selection: Selection::stale(),
            json: false
        })
    );
    fails_with("prune --kept --all", "--kept and --all cannot be combined");
    fails_with("ps --all --stale", "--all and --stale cannot be combined");
    fails_with(
        "prune --reused --kept",
        "--reused and --kept cannot be combined",
    );
    fails_with("prune --all=yes", "--all takes no value");
}

#[test]
fn filters_combine_with_a_verdict_in_any_order() {
    let expected = Ok(Command::Prune {
        selection: Selection::all().test("m::t").session("s1"),
    });
    assert_eq!(parsed("prune --all --test m::t --session s1"), expected);
    assert_eq!(parsed("prune --session=s1 --test=m::t --all"), expected);
    assert_eq!(
        parsed("prune --test m::t"),
        Ok(Command::Prune {
            selection: Selection::stale().test("m::t")
        })
    );
    assert_eq!(
        parsed("ps --json --kept --session s1"),
        Ok(Command::Ps {
            selection: Selection::kept().session("s1"),
            json: true
        })
    );
}

#[test]
fn a_value_may_contain_equals_signs() {
    assert_eq!(
        parsed("ps --test=a=b"),
        Ok(Command::Ps {
            selection: Selection::all().test("a=b"),
            json: false
        })
    );
}

#[test]
fn missing_or_repeated_values() {
    fails_with("ps --test", "--test needs a test id");
    fails_with("ps --test --all", "--test needs a test id");
    fails_with("prune --session=", "--session needs a session id");
    fails_with("prune --test a --test b", "--test given twice");
}

#[test]
fn mistakes() {
    fails_with("", "no command given");
    fails_with("frobnicate", "unknown command `frobnicate`");
    fails_with("--bogus", "unknown option `--bogus`");
    fails_with("ps --bogus", "unknown option `--bogus` for ps");
    fails_with("prune --json", "unknown option `--json` for prune");
    fails_with("ps --json=yes", "--json takes no value");
    fails_with("prune extra", "unexpected argument `extra` for prune");
}
