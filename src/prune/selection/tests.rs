//! Unit tests of [`Selection`]: which resources each verdict and filter picks.

use super::*;
use crate::cleanup::{ResourceKind, Unproven};

fn resource(test: &str, session: &str, ownership: Ownership) -> Resource {
    Resource {
        kind: ResourceKind::Container,
        id: "0123abcd".into(),
        name: "testdock-0123".into(),
        test: test.into(),
        session: session.into(),
        owner: "1-2-3".into(),
        ownership,
        created: 1_700_000_000,
        state: "running".into(),
        ports: Vec::new(),
        role: String::new(),
    }
}

#[test]
fn stale_picks_proven_deaths_only() {
    let stale = Selection::stale();
    assert!(stale.selects(&resource("t", "other", Ownership::Dead)));
    assert!(!stale.selects(&resource("t", "other", Ownership::Alive)));
    assert!(!stale.selects(&resource("t", "other", Ownership::Kept)));
    let unknown = Ownership::Unknown(Unproven::OtherPidNamespace);
    assert!(!stale.selects(&resource("t", "other", unknown)));
}

#[test]
fn kept_picks_kept_containers_only() {
    assert!(Selection::kept().selects(&resource("t", "s", Ownership::Kept)));
    assert!(!Selection::kept().selects(&resource("t", "other", Ownership::Dead)));
}

#[test]
fn reused_picks_reused_containers_only_and_stale_never_does() {
    assert!(Selection::reused().selects(&resource("t", "s", Ownership::Reused)));
    assert!(!Selection::reused().selects(&resource("t", "s", Ownership::Dead)));
    assert!(!Selection::reused().selects(&resource("t", "s", Ownership::Kept)));
    assert!(!Selection::stale().selects(&resource("t", "s", Ownership::Reused)));
    assert!(!Selection::kept().selects(&resource("t", "s", Ownership::Reused)));
}

#[test]
fn all_picks_every_owner_and_filters_narrow_it() {
    let unknown = Ownership::Unknown(Unproven::OtherHost);
    for ownership in [
        Ownership::Alive,
        Ownership::Dead,
        Ownership::Kept,
        Ownership::Reused,
        unknown,
    ] {
        assert!(Selection::all().selects(&resource("t", "s", ownership)));
    }
    let of_a = Selection::all().test("a");
    assert!(of_a.selects(&resource("a", "s", Ownership::Alive)));
    assert!(!of_a.selects(&resource("b", "s", Ownership::Alive)));
}

#[test]
fn filters_combine() {
    let both = Selection::stale().test("a").session("s");
    assert!(both.selects(&resource("a", "s", Ownership::Dead)));
    assert!(!both.selects(&resource("a", "x", Ownership::Dead)));
    assert!(!both.selects(&resource("b", "s", Ownership::Dead)));
    assert!(!both.selects(&resource("a", "s", Ownership::Alive)));
}

#[test]
fn a_later_filter_replaces_an_earlier_one() {
    assert_eq!(
        Selection::all().test("a").test("b"),
        Selection::all().test("b")
    );
}

#[test]
fn filters_go_to_the_daemon_as_labels() {
    assert_eq!(
        Selection::kept().label_filters(),
        ["testdock.managed-by=testdock"]
    );
    assert_eq!(
        Selection::all().session("s").test("m::t").label_filters(),
        [
            "testdock.managed-by=testdock",
            "testdock.test=m::t",
            "testdock.session=s"
        ]
    );
}
