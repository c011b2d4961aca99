//! Refinements of one kind of probe (`.times(2)`, `.status(204)`, …) applied to a
//! [`Probe`]: they change the probe they apply to, and one applied to a probe of another
//! kind is recorded, to be refused before anything is created.

use std::fmt;

use super::{HttpProbe, Kind, LogProbe, Probe, TcpProbe};

/// A kind of probe that refinements apply to.
pub(super) trait Refinable: Sized {
    /// The kind, as in "`.times(2)` applies to *log* probes".
    const KIND: &'static str;

    /// This kind's data in `kind`, if `kind` is of this kind.
    fn of(kind: &mut Kind) -> Option<&mut Self>;
}

impl Refinable for LogProbe {
    const KIND: &'static str = "log";

    fn of(kind: &mut Kind) -> Option<&mut Self> {
        match kind {
            Kind::Log(log) => Some(log),
            _ => None,
        }
    }
}

impl Refinable for TcpProbe {
    const KIND: &'static str = "tcp";

    fn of(kind: &mut Kind) -> Option<&mut Self> {
        match kind {
            Kind::Tcp(tcp) => Some(tcp),
            _ => None,
        }
    }
}

impl Refinable for HttpProbe {
    const KIND: &'static str = "http";

    fn of(kind: &mut Kind) -> Option<&mut Self> {
        match kind {
            Kind::Http(http) => Some(http),
            _ => None,
        }
    }
}

/// A refinement applied to a probe of another kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Misapplied {
    /// The call as written, e.g. `.times(2)`.
    call: String,
    /// The kind it applies to.
    applies_to: &'static str,
    /// The kind of the probe it was applied to.
    found: &'static str,
}

impl fmt::Display for Misapplied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As spoken: "an all", "an http".
        let article = match self.found {
            "all" | "any" | "exec" | "exit" | "http" => "an",
            _ => "a",
        };
        write!(
            f,
            "`{}` applies to {} probes; this is {article} {} probe",
            self.call, self.applies_to, self.found
        )
    }
}

impl Kind {
    /// The kind's name in messages (a [`Kind::Within`] has its inner probe's kind).
    fn name(&self) -> &'static str {
        match self {
            Kind::Started => "none",
            Kind::Log(_) => LogProbe::KIND,
            Kind::Tcp(_) => TcpProbe::KIND,
            Kind::Http(_) => HttpProbe::KIND,
            Kind::Exec(_) => "exec",
            Kind::Healthy => "healthy",
            Kind::Exit(_) => "exit",
            Kind::Delay(_) => "delay",
            Kind::All(_) => "all",
            Kind::Any(_) => "any",
            Kind::Custom(_) => "custom",
            Kind::Within(inner, _) => inner.kind.name(),
        }
    }
}

impl Probe {
    /// Applies `refine` to this probe (the one inside [`Probe::within`]) if it is of
    /// kind `R`; otherwise records `call` (the method as written) as misapplied.
    pub(super) fn refine<R: Refinable>(
        mut self,
        call: impl FnOnce() -> String,
        refine: impl FnOnce(&mut R),
    ) -> Probe {
        match R::of(self.innermost_mut()) {
            Some(data) => refine(data),
            None => {
                let found = self.kind.name();
                self.misapplied.push(Misapplied {
                    call: call(),
                    applies_to: R::KIND,
                    found,
                });
            }
        }
        self
    }

    /// What the refinements apply to: the probe itself, or the one a time limit wraps.
    fn innermost_mut(&mut self) -> &mut Kind {
        match &mut self.kind {
            Kind::Within(inner, _) => inner.innermost_mut(),
            kind => kind,
        }
    }

    /// An error naming every misapplied refinement in the probe and its parts.
    pub(super) fn check_refinements(&self) -> Result<(), String> {
        let mut found = Vec::new();
        self.collect_misapplied(&mut found);
        if found.is_empty() {
            Ok(())
        } else {
            Err(found.join("\n"))
        }
    }

    fn collect_misapplied(&self, found: &mut Vec<String>) {
        found.extend(self.misapplied.iter().map(ToString::to_string));
        match &self.kind {
            Kind::All(ps) | Kind::Any(ps) => ps.iter().for_each(|p| p.collect_misapplied(found)),
            Kind::Within(p, _) => p.collect_misapplied(found),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The validation error for `probe`, with every port published.
    fn refused(probe: Probe) -> String {
        probe
            .check(&[80, 5432])
            .expect_err("the misapplied refinement is refused")
    }

    #[test]
    fn probes_of_different_kinds_compose_without_conversions() {
        let all = Probe::all([Probe::log("a"), Probe::tcp(80)]);
        assert_eq!(all.to_string(), "all(log line \"a\", tcp port 80)");
        assert!(all.check(&[80]).is_ok());
        let any = Probe::any([Probe::http(80, "/").status(204), Probe::exit(0)]);
        assert_eq!(
            any.to_string(),
            "any(GET http://…:80/ answering 204, exit with code 0)"
        );
        assert!(any.check(&[80]).is_ok());
    }

    #[test]
    fn each_refinement_of_another_kind_is_refused_by_name() {
        let log = "applies to log probes";
        let tcp = "applies to tcp probes";
        let http = "applies to http probes";
        let cases = [
            (
                Probe::tcp(80).times(2),
                format!("`.times(2)` {log}; this is a tcp probe"),
            ),
            (
                Probe::http(80, "/").stdout(),
                format!("`.stdout()` {log}; this is an http probe"),
            ),
            (
                Probe::exit(0).stderr(),
                format!("`.stderr()` {log}; this is an exit probe"),
            ),
            (
                Probe::log("x").listening_inside(),
                format!("`.listening_inside()` {tcp}; this is a log probe"),
            ),
            (
                Probe::tcp(80).method("post"),
                format!("`.method(\"post\")` {http}; this is a tcp probe"),
            ),
            (
                Probe::none().header("a", "b"),
                format!("`.header(\"a\", \"b\")` {http}; this is a none probe"),
            ),
            (
                Probe::all([Probe::tcp(80)]).status(200),
                format!("`.status(200)` {http}; this is an all probe"),
            ),
            (
                Probe::any([Probe::exit(0)]).status_range(200, 299),
                format!("`.status_range(200, 299)` {http}; this is an any probe"),
            ),
            (
                Probe::exec(["true"]).body_contains("ok"),
                format!("`.body_contains(\"ok\")` {http}; this is an exec probe"),
            ),
            (
                Probe::healthy().https(),
                format!("`.https()` {http}; this is a healthy probe"),
            ),
            (
                Probe::delay(Duration::ZERO).times(1),
                format!("`.times(1)` {log}; this is a delay probe"),
            ),
            (
                Probe::custom("c", |_| async { true }).https(),
                format!("`.https()` {http}; this is a custom probe"),
            ),
        ];
        for (probe, expected) in cases {
            let described = probe.to_string();
            assert_eq!(refused(probe), expected, "for {described}");
        }
    }

    #[test]
    fn misapplied_refinements_are_found_inside_composites_and_all_reported() {
        let probe = Probe::all([
            Probe::log("up").times(2),
            Probe::any([Probe::tcp(5432).times(3)]).within(Duration::from_secs(1)),
        ])
        .https();
        let err = refused(probe);
        assert_eq!(
            err,
            "`.https()` applies to http probes; this is an all probe\n\
             `.times(3)` applies to log probes; this is a tcp probe"
        );
    }

    #[test]
    fn refinements_reach_through_a_time_limit() {
        let probe = Probe::log("up")
            .within(Duration::from_secs(1))
            .times(2)
            .stderr();
        assert!(probe.check(&[]).is_ok());
        assert_eq!(
            probe.to_string(),
            "log line \"up\" on stderr (occurrence 2) within 1s"
        );
        let err = refused(Probe::tcp(80).within(Duration::from_secs(1)).status(200));
        assert_eq!(
            err,
            "`.status(200)` applies to http probes; this is a tcp probe"
        );
    }

    #[test]
    fn a_misapplied_refinement_changes_nothing_else() {
        let probe = Probe::tcp(80).times(2).listening_inside();
        assert_eq!(probe.to_string(), "tcp port 80 (listening inside)");
    }
}
