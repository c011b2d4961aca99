//! What `ps` and `prune` print: a table for people, JSON for scripts (its fields are
//! documented in `testdock ps --help`).

use serde_json::{json, Value};
use testdock::prune::{Ownership, Resource, ResourceKind};

/// `ps`: one line per resource, then the count.
pub(crate) fn table(list: &[Resource], now: i64) -> String {
    let mut out = format!(
        "{:<10} {:<34} {:<8} {:<32} {:<20} {:<24} {:<40} PORTS\n",
        "KIND", "NAME", "OWNER", "STATUS", "AGE/STATE", "SESSION", "TEST"
    );
    for r in list {
        let owner = r.owner.split('-').next().unwrap_or("");
        let status = r.ownership.to_string();
        let status = if r.role.is_empty() {
            status
        } else {
            format!("{status}/{}", r.role)
        };
        let age = if r.created > 0 {
            format!("{}s {}", now - r.created, r.state)
        } else {
            r.state.clone()
        };
        out.push_str(&format!(
            "{:<10} {:<34} {:<8} {:<32} {:<20} {:<24} {:<40} {}\n",
            r.kind.to_string(),
            r.name,
            owner,
            status,
            age.trim_end(),
            r.session,
            r.test,
            r.ports.join(",")
        ));
    }
    out.push_str(&format!("{} resource(s)\n", list.len()));
    out
}

/// `ps --json`: an array of one object per resource.
pub(crate) fn json(list: &[Resource]) -> String {
    let array: Vec<Value> = list.iter().map(object).collect();
    let mut text = serde_json::to_string_pretty(&array).expect("JSON of strings and numbers");
    text.push('\n');
    text
}

fn object(r: &Resource) -> Value {
    let reason = match &r.ownership {
        Ownership::Unknown(why) => Some(why.code()),
        _ => None,
    };
    json!({
        "kind": r.kind.to_string(),
        "id": r.id,
        "name": r.name,
        "session": r.session,
        "test": r.test,
        "owner": r.owner,
        "ownership": r.ownership.code(),
        "reason": reason,
        "created": (r.created > 0).then_some(r.created),
        "kept": r.ownership == Ownership::Kept,
        "state": (r.kind == ResourceKind::Container).then_some(&r.state),
        "ports": r.ports,
        "role": (!r.role.is_empty()).then_some(&r.role),
    })
}

/// `prune`: one line per resource removed, then the count.
pub(crate) fn removed(list: &[Resource]) -> String {
    let mut out = String::new();
    for r in list {
        out.push_str(&format!(
            "removed {} {} (test {}, owner {})\n",
            r.kind, r.name, r.test, r.owner
        ));
    }
    out.push_str(&format!("{} resource(s) removed\n", list.len()));
    out
}
