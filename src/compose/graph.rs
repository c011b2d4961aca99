//! The dependency graph of a stack: which services are active (profiles), whether every
//! `depends_on` names one, no cycles, and what each service must reach before its
//! dependents start.

use std::collections::{BTreeMap, HashMap};

use super::model::{Condition, ServicePlan};

/// Keeps the services active under `profiles` (those without profiles, and those with
/// one of them), checking their dependencies. A dependency on an inactive service is an
/// error unless it says `required: false` (then it is dropped).
pub(crate) fn select(
    services: Vec<ServicePlan>,
    profiles: &[String],
) -> Result<Vec<ServicePlan>, String> {
    let profiles_of: HashMap<String, Vec<String>> = services
        .iter()
        .map(|s| (s.name.clone(), s.profiles.clone()))
        .collect();
    let active = |p: &[String]| p.is_empty() || p.iter().any(|p| profiles.contains(p));
    let mut kept = Vec::new();
    for mut service in services.into_iter().filter(|s| active(&s.profiles)) {
        let mut deps = Vec::new();
        for dep in service.depends_on {
            match profiles_of.get(&dep.service) {
                None => {
                    return Err(format!(
                        "service `{}` depends on `{}`, which the file does not define",
                        service.name, dep.service
                    ))
                }
                Some(p) if !active(p) && dep.required => {
                    return Err(format!(
                        "service `{}` depends on `{}`, which is only in profiles {p:?}, none of them active (enable one with `Compose::profile`)",
                        service.name, dep.service
                    ))
                }
                Some(p) if !active(p) => {}
                Some(_) => deps.push(dep),
            }
        }
        service.depends_on = deps;
        kept.push(service);
    }
    if let Some(cycle) = find_cycle(&kept) {
        return Err(format!("dependency cycle: {}", cycle.join(" -> ")));
    }
    Ok(kept)
}

/// A cycle of `depends_on`, as the path that closes it (`a -> b -> a`).
fn find_cycle(services: &[ServicePlan]) -> Option<Vec<String>> {
    let edges: BTreeMap<&str, Vec<&str>> = services
        .iter()
        .map(|s| {
            let deps = s.depends_on.iter().map(|d| d.service.as_str()).collect();
            (s.name.as_str(), deps)
        })
        .collect();
    // 0: unvisited, 1: on the current path, 2: done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    let mut path: Vec<&str> = Vec::new();
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut HashMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|n| n.to_string()).collect();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(node, 1);
        path.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(node, 2);
        None
    }
    edges
        .keys()
        .find_map(|node| visit(node, &edges, &mut state, &mut path))
}

/// For each service some other depends on, the strongest condition they wait for.
pub(crate) fn conditions(services: &[ServicePlan]) -> HashMap<String, Condition> {
    let mut strongest: HashMap<String, Condition> = HashMap::new();
    for dep in services.iter().flat_map(|s| &s.depends_on) {
        let entry = strongest
            .entry(dep.service.clone())
            .or_insert(dep.condition);
        *entry = (*entry).max(dep.condition);
    }
    strongest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::Dependency;
    use crate::spec::ContainerSpec;

    fn service(name: &str, deps: &[(&str, Condition)], profiles: &[&str]) -> ServicePlan {
        ServicePlan {
            name: name.to_owned(),
            spec: ContainerSpec::new("x"),
            named_mounts: Vec::new(),
            networks: vec![("default".to_owned(), Vec::new())],
            healthcheck: false,
            depends_on: deps
                .iter()
                .map(|(s, c)| Dependency {
                    service: (*s).to_owned(),
                    condition: *c,
                    required: true,
                })
                .collect(),
            profiles: profiles.iter().map(|p| (*p).to_owned()).collect(),
            probe: None,
        }
    }

    #[test]
    fn a_cycle_is_named_by_its_path() {
        let err = select(
            vec![
                service("a", &[("b", Condition::Started)], &[]),
                service("b", &[("c", Condition::Started)], &[]),
                service("c", &[("a", Condition::Healthy)], &[]),
            ],
            &[],
        )
        .unwrap_err();
        assert_eq!(err, "dependency cycle: a -> b -> c -> a");
    }

    #[test]
    fn an_unknown_dependency_names_both_services() {
        let err = select(
            vec![service("web", &[("db", Condition::Started)], &[])],
            &[],
        )
        .unwrap_err();
        assert!(
            err.contains("`web` depends on `db`, which the file does not define"),
            "{err}"
        );
    }

    #[test]
    fn profiles_select_services_and_the_strongest_condition_wins() {
        let all = vec![
            service("db", &[], &[]),
            service("debug", &[("db", Condition::Started)], &["debug"]),
            service("web", &[("db", Condition::Healthy)], &[]),
        ];
        let kept = select(all.clone(), &[]).unwrap();
        assert_eq!(
            kept.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["db", "web"]
        );
        let kept = select(all, &["debug".to_owned()]).unwrap();
        assert_eq!(kept.len(), 3);
        assert_eq!(conditions(&kept)["db"], Condition::Healthy);
    }
}
