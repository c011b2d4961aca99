//! What `testdock --help`, `testdock help <command>` and `<command> --help` print.

use crate::args::Topic;

/// The usage of everything (`None`) or of one command.
pub(crate) fn text(topic: Option<Topic>) -> &'static str {
    match topic {
        None => GENERAL,
        Some(Topic::Ps) => PS,
        Some(Topic::Prune) => PRUNE,
    }
}

const GENERAL: &str = r#"testdock: list and remove the containers, networks and volumes testdock made

Usage:
  testdock ps [SELECTION] [--json]   list them (default: all of them)
  testdock prune [SELECTION]         remove them (default: --stale, nothing else)
  testdock help [ps | prune]         this help, or a command's (also: <command> --help)
  testdock --version                 print the version

Selection (options combine: a resource must match every one given):
  --stale         its owner is proven dead: same host and pid namespace as this
                  command, the process gone, older than 10 s (prune's default)
  --kept          a container kept for debugging by TESTDOCK_KEEP_FAILED (`...-kept`)
  --reused        a shared container kept across runs by TESTDOCK_REUSE (and the
                  volumes it made): no one owns it, so only this or --all removes it
  --all           whoever owns it: live runs, other CI jobs, unknown owners, reused
                  containers (ps's default)
  --test <ID>     made by the test ID (label testdock.test, e.g. my_crate::db::migrates)
  --session <ID>  of the session ID (label testdock.session, e.g. "$TESTDOCK_SESSION")
  At most one of --stale, --kept, --reused and --all; --test and --session narrow
  any of them.

Examples:
  testdock ps                                          # everything, as a table
  testdock ps --json --session "$TESTDOCK_SESSION"     # one CI job's, for a script
  testdock prune                                       # what dead runs left behind
  testdock prune --kept                                # kept containers, once read
  testdock prune --reused                              # what TESTDOCK_REUSE kept
  testdock prune --all --session "$TESTDOCK_SESSION"   # the last step of a CI job

The daemon is the one the tests use: DOCKER_HOST, else the Docker context, else the
local socket. Exit status: 0 done, 1 the daemon failed, 2 a bad command line.
Install: cargo install testdock --locked
"#;

const PS: &str = r#"testdock ps: list testdock's containers, networks and volumes on the daemon

Usage: testdock ps [--stale | --kept | --reused | --all] [--test <ID>] [--session <ID>] [--json]

Lists every resource testdock labelled, unless a selection narrows it. With the
options you give prune (plus --stale if none), it shows what prune would remove.

Options:
  --stale         only those whose owner is proven dead (what prune removes)
  --kept          only containers kept by TESTDOCK_KEEP_FAILED
  --reused        only containers reused across runs (TESTDOCK_REUSE), and their volumes
  --all           whoever owns them (the default)
  --test <ID>     only the test ID's (label testdock.test)
  --session <ID>  only the session ID's (label testdock.session)
  --json          a JSON array instead of a table
  -h, --help      this help

The table shows each resource's kind, name, owner pid, ownership (and role), age and
state, session, test and ports. Ownership is one of:
  alive     its owner runs on this host, in this pid namespace
  stale     its owner is proven dead: prune removes it
  kept      kept for debugging by TESTDOCK_KEEP_FAILED: prune --kept removes it
  reused    a shared container kept for the next run by TESTDOCK_REUSE (or a volume
            it made): no owner, never stale; prune --reused or --all removes it
  unknown   nothing here can prove its owner dead (the reason follows); prune --all
            removes it

--json prints an array with one object per resource. The field names are stable (new
fields may be added):
  kind       "container", "network" or "volume"
  id         the daemon's id (a volume's is its name)
  name       its name
  session    its session (label testdock.session)
  test       its test (label testdock.test)
  owner      its owner process (label testdock.owner): "<pid>-<start time>[-<pid ns>]"
  ownership  "alive", "stale", "kept", "reused" or "unknown"
  reason     why unknown: "no-labels", "other-host", "other-pid-namespace", "no-proc"
             (this machine has no /proc of its own) or "recent"; null otherwise
  created    creation time, seconds since the epoch; null if unknown
  kept       true for a container kept by TESTDOCK_KEEP_FAILED
  state      a container's state ("running", "exited", ...); null for the others
  ports      a container's published ports, "host ip:port->port/protocol"
  role       "reaper" for testdock's own reaper container, "pause" for a pool
             mode pause container (TESTDOCK_POOL); null for a test's

Examples:
  testdock ps --stale
  testdock ps --test my_crate::db::migrates
  testdock ps --json --kept | jq -r '.[].name'
"#;

const PRUNE: &str = r#"testdock prune: remove testdock's containers, networks and volumes from the daemon

Usage: testdock prune [--stale | --kept | --reused | --all] [--test <ID>] [--session <ID>]

Removes what the selection picks. With no option, only stale resources: those whose
owner is proven dead, which can never belong to a live run, another host, another pid
namespace or another CI job. Containers go first, then networks and volumes; one still
used by a container that stays is left. Prints each resource removed.

Options:
  --stale         those whose owner is proven dead (the default)
  --kept          containers kept for debugging by TESTDOCK_KEEP_FAILED
  --reused        containers reused across runs (TESTDOCK_REUSE) and their volumes
  --all           whoever owns them, live runs and reused containers too: on a daemon
                  others share, narrow it with --test or --session
  --test <ID>     only the test ID's (label testdock.test)
  --session <ID>  only the session ID's (label testdock.session)
  -h, --help      this help

Options combine: --all --test ID removes everything of test ID and nothing else.
To see first what would go: testdock ps with the same options (plus --stale if none).

Examples:
  testdock prune
  testdock prune --kept --test my_crate::db::migrates
  testdock prune --all --session "$TESTDOCK_SESSION"   # the last step of a CI job
"#;
