//! Pull progress: silent for fast pulls; for slow ones, one stderr line per layer
//! status change and a summary at the end.
//!
//! Pure: the pull loop feeds it the daemon's events and the elapsed time, and prints the
//! lines it returns.

use std::time::Duration;

/// A layer's state, from the daemon's `status` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Queued,
    Waiting,
    Downloading,
    Verifying,
    Downloaded,
    Extracting,
    Done,
    AlreadyPresent,
    Retrying,
}

impl State {
    fn from_status(status: &str) -> Option<State> {
        Some(match status {
            "Pulling fs layer" => State::Queued,
            "Waiting" => State::Waiting,
            "Downloading" => State::Downloading,
            "Verifying Checksum" => State::Verifying,
            "Download complete" => State::Downloaded,
            "Extracting" => State::Extracting,
            "Pull complete" => State::Done,
            "Already exists" => State::AlreadyPresent,
            s if s.starts_with("Retrying") => State::Retrying,
            _ => return None,
        })
    }

    /// Whether a change to this state is worth a line.
    fn reported(self) -> bool {
        !matches!(self, State::Queued | State::Waiting | State::Verifying)
    }

    fn finished(self) -> bool {
        matches!(self, State::Done | State::AlreadyPresent)
    }
}

#[derive(Debug)]
struct Layer {
    id: String,
    state: State,
    current: u64,
    size: Option<u64>,
    reported: Option<State>,
}

/// Progress of one pull.
#[derive(Debug)]
pub(crate) struct PullProgress {
    image: String,
    quiet: Duration,
    layers: Vec<Layer>,
    reporting: bool,
}

impl PullProgress {
    /// Progress of pulling `image`, silent for the first `quiet`.
    pub(crate) fn new(image: &str, quiet: Duration) -> Self {
        PullProgress {
            image: image.to_owned(),
            quiet,
            layers: Vec::new(),
            reporting: false,
        }
    }

    /// Takes in one event of the daemon's pull stream.
    pub(crate) fn observe(
        &mut self,
        id: Option<&str>,
        status: Option<&str>,
        current: Option<i64>,
        total: Option<i64>,
    ) {
        let (Some(id), Some(state)) = (id, status.and_then(State::from_status)) else {
            return;
        };
        let index = match self.layers.iter().position(|l| l.id == id) {
            Some(i) => i,
            None => {
                self.layers.push(Layer {
                    id: id.to_owned(),
                    state,
                    current: 0,
                    size: None,
                    reported: None,
                });
                self.layers.len() - 1
            }
        };
        let layer = &mut self.layers[index];
        layer.state = state;
        let positive = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok()).filter(|v| *v > 0);
        if state == State::Downloading {
            layer.current = positive(current).unwrap_or(layer.current);
            layer.size = positive(total).or(layer.size);
        } else if state == State::Extracting {
            layer.size = layer.size.or(positive(total));
        }
    }

    /// Lines to print now: nothing before `quiet` has passed, then a line for each layer
    /// whose state changed since it was last reported.
    pub(crate) fn lines(&mut self, elapsed: Duration) -> Vec<String> {
        if elapsed < self.quiet {
            return Vec::new();
        }
        let mut out = Vec::new();
        if !self.reporting {
            self.reporting = true;
            let done = self.layers.iter().filter(|l| l.state.finished()).count();
            out.push(format!(
                "testdock: pulling {}: still going after {:.1}s ({} layers seen, {done} done)",
                self.image,
                elapsed.as_secs_f64(),
                self.layers.len(),
            ));
            for layer in &mut self.layers {
                if layer.state.finished() {
                    layer.reported = Some(layer.state);
                }
            }
        }
        for layer in &mut self.layers {
            if layer.reported == Some(layer.state) || !layer.state.reported() {
                continue;
            }
            layer.reported = Some(layer.state);
            let size = layer
                .size
                .map(|s| format!(" ({})", bytes(s)))
                .unwrap_or_default();
            let what = match layer.state {
                State::Downloading => format!("downloading{size}"),
                State::Downloaded => format!("downloaded{size}"),
                State::Extracting => format!("extracting{size}"),
                State::Done => "done".to_owned(),
                State::AlreadyPresent => "already present".to_owned(),
                State::Retrying => "download failed, retrying".to_owned(),
                State::Queued | State::Waiting | State::Verifying => continue,
            };
            out.push(format!(
                "testdock: pulling {}: layer {} {what}",
                self.image, layer.id
            ));
        }
        out
    }

    /// The closing line, if progress was reported at all.
    pub(crate) fn summary(&self, elapsed: Duration) -> Option<String> {
        self.reporting.then(|| {
            let fetched: u64 = self
                .layers
                .iter()
                .filter(|l| l.state != State::AlreadyPresent)
                .filter_map(|l| l.size)
                .sum();
            format!(
                "testdock: pulled {} in {:.1}s ({} layers, {} downloaded)",
                self.image,
                elapsed.as_secs_f64(),
                self.layers.len(),
                bytes(fetched)
            )
        })
    }

    /// What the pull was doing, for timeout and stall errors.
    pub(crate) fn activity(&self) -> String {
        if self.layers.is_empty() {
            return "waiting for the registry to answer (no layer had started)".to_owned();
        }
        let done = self.layers.iter().filter(|l| l.state.finished()).count();
        let busy: Vec<String> = self
            .layers
            .iter()
            .filter(|l| !l.state.finished())
            .take(3)
            .map(|l| {
                let of = l
                    .size
                    .map(|s| format!(" of {}", bytes(s)))
                    .unwrap_or_default();
                match l.state {
                    State::Downloading => format!("{} downloading, {}{of}", l.id, bytes(l.current)),
                    State::Extracting => format!("{} extracting", l.id),
                    State::Queued | State::Waiting => format!("{} waiting", l.id),
                    State::Verifying | State::Downloaded => format!("{} downloaded", l.id),
                    State::Retrying => format!("{} retrying", l.id),
                    State::Done | State::AlreadyPresent => unreachable!("filtered out"),
                }
            })
            .collect();
        let mut text = format!("{done} of {} layers done", self.layers.len());
        if !busy.is_empty() {
            text.push_str(&format!("; layer {}", busy.join("; layer ")));
        }
        text
    }
}

/// `12.1 MB`, decimal units as the Docker CLI prints them.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ev(p: &mut PullProgress, id: &str, status: &str, cur: i64, total: i64) {
        p.observe(Some(id), Some(status), Some(cur), Some(total));
    }

    #[test]
    fn a_fast_pull_prints_nothing() {
        let mut p = PullProgress::new("x:1", ms(1000));
        p.observe(Some("1"), Some("Pulling from x"), None, None);
        ev(&mut p, "aaa", "Pulling fs layer", 0, 0);
        ev(&mut p, "aaa", "Downloading", 10, 100);
        assert!(p.lines(ms(200)).is_empty());
        ev(&mut p, "aaa", "Pull complete", 0, 0);
        assert!(p.lines(ms(400)).is_empty());
        assert_eq!(p.summary(ms(500)), None);
    }

    #[test]
    fn a_slow_pull_prints_one_line_per_layer_status_change_and_a_summary() {
        let mut p = PullProgress::new("redis:7", ms(1000));
        ev(&mut p, "aaa", "Already exists", 0, 0);
        ev(&mut p, "bbb", "Pulling fs layer", 0, 0);
        ev(&mut p, "bbb", "Downloading", 1_000, 12_100_000);
        assert!(p.lines(ms(900)).is_empty());
        assert_eq!(
            p.lines(ms(1500)),
            [
                "testdock: pulling redis:7: still going after 1.5s (2 layers seen, 1 done)",
                "testdock: pulling redis:7: layer bbb downloading (12.1 MB)",
            ]
        );
        for cur in [2_000_000, 6_000_000, 12_100_000] {
            ev(&mut p, "bbb", "Downloading", cur, 12_100_000);
            assert!(
                p.lines(ms(2000)).is_empty(),
                "more bytes are not a status change"
            );
        }
        ev(&mut p, "bbb", "Verifying Checksum", 0, 0);
        assert!(p.lines(ms(2100)).is_empty());
        ev(&mut p, "bbb", "Download complete", 0, 0);
        ev(&mut p, "bbb", "Extracting", 100, 12_100_000);
        assert_eq!(
            p.lines(ms(2200)),
            ["testdock: pulling redis:7: layer bbb extracting (12.1 MB)"],
            "changes between two calls collapse into the latest"
        );
        ev(&mut p, "bbb", "Pull complete", 0, 0);
        assert_eq!(
            p.lines(ms(2300)),
            ["testdock: pulling redis:7: layer bbb done"]
        );
        assert_eq!(
            p.summary(ms(2345)).as_deref(),
            Some("testdock: pulled redis:7 in 2.3s (2 layers, 12.1 MB downloaded)")
        );
    }

    #[test]
    fn activity_says_what_was_going_on() {
        let mut p = PullProgress::new("x", ms(1000));
        assert_eq!(
            p.activity(),
            "waiting for the registry to answer (no layer had started)"
        );
        ev(&mut p, "aaa", "Pull complete", 0, 0);
        ev(&mut p, "bbb", "Downloading", 2_500_000, 30_000_000);
        ev(&mut p, "ccc", "Waiting", 0, 0);
        assert_eq!(
            p.activity(),
            "1 of 3 layers done; layer bbb downloading, 2.5 MB of 30.0 MB; layer ccc waiting"
        );
    }

    #[test]
    fn sizes_use_decimal_units() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_064_365), "1.1 MB");
        assert_eq!(bytes(12_100_000), "12.1 MB");
        assert_eq!(bytes(3_200_000_000), "3.2 GB");
    }
}
