//! Which of testdock's resources [`ps`](super::ps) lists and [`prune`](super::prune)
//! removes: a verdict on the owner, narrowed by test and session.

use crate::cleanup::{Ownership, Resource};
use crate::labels;

/// A choice of testdock's resources: by owner verdict ([`stale`](Self::stale),
/// [`kept`](Self::kept), [`reused`](Self::reused) or [`all`](Self::all)), narrowed by [`test`](Self::test) and
/// [`session`](Self::session). A resource is selected when it matches every part.
///
/// ```
/// use testdock::prune::Selection;
/// // Everything the test `db::migrates` made, whoever owns it.
/// let of_one_test = Selection::all().test("db::migrates");
/// // Stale resources of one CI job's session.
/// let stale_of_job = Selection::stale().session("job-42");
/// # let _ = (of_one_test, stale_of_job);
/// ```
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    verdict: Verdict,
    test: Option<String>,
    session: Option<String>,
}

/// The owner verdicts a selection starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Stale,
    Kept,
    Reused,
    Any,
}

impl Selection {
    /// Resources whose owner is proven dead ([`Ownership::Dead`]): what
    /// [`prune`](super::prune) should usually be given, as it can never pick a live
    /// run's resources, nor those of another host, pid namespace or CI job.
    pub fn stale() -> Self {
        Self::with(Verdict::Stale)
    }

    /// Containers kept for debugging by `TESTDOCK_KEEP_FAILED` ([`Ownership::Kept`]).
    pub fn kept() -> Self {
        Self::with(Verdict::Kept)
    }

    /// Containers reused across runs (`TESTDOCK_REUSE`, [`Ownership::Reused`]) and the
    /// volumes they made: they have no owner, so nothing else but [`all`](Self::all)
    /// removes them.
    pub fn reused() -> Self {
        Self::with(Verdict::Reused)
    }

    /// Every resource testdock labelled on the daemon, whoever owns it: live runs,
    /// other jobs, unknown owners and reused containers included. Narrow it with [`test`](Self::test) or
    /// [`session`](Self::session) on a shared daemon.
    pub fn all() -> Self {
        Self::with(Verdict::Any)
    }

    fn with(verdict: Verdict) -> Self {
        Selection {
            verdict,
            test: None,
            session: None,
        }
    }

    /// Only resources of the test `id` (label `testdock.test`, e.g.
    /// `my_crate::db::migrates`). Replaces an earlier `test`.
    pub fn test(mut self, id: impl Into<String>) -> Self {
        self.test = Some(id.into());
        self
    }

    /// Only resources of the session `id` (label `testdock.session`, see
    /// [`labels::session_id`]). Replaces an earlier `session`.
    pub fn session(mut self, id: impl Into<String>) -> Self {
        self.session = Some(id.into());
        self
    }

    /// The daemon-side label filters (`key=value`) that every selected resource matches.
    pub(crate) fn label_filters(&self) -> Vec<String> {
        let mut filters = vec![labels::managed_filter()];
        if let Some(test) = &self.test {
            filters.push(format!("{}={test}", labels::TEST));
        }
        if let Some(session) = &self.session {
            filters.push(format!("{}={session}", labels::SESSION));
        }
        filters
    }

    /// Whether `r` is selected.
    pub(crate) fn selects(&self, r: &Resource) -> bool {
        let verdict = match self.verdict {
            Verdict::Stale => r.is_stale(),
            Verdict::Kept => r.ownership == Ownership::Kept,
            Verdict::Reused => r.ownership == Ownership::Reused,
            Verdict::Any => true,
        };
        verdict
            && self.test.as_ref().is_none_or(|t| *t == r.test)
            && self.session.as_ref().is_none_or(|s| *s == r.session)
    }
}

#[cfg(test)]
mod tests;
