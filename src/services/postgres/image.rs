//! PostgreSQL's image: the official `postgres:<major>-alpine`, or the host's Debian
//! binaries (`/usr/lib/postgresql/<major>`) packed into an image that honours the same
//! contract (the `POSTGRES_*` variables, `/docker-entrypoint-initdb.d`, `postgres`
//! arguments), so one spec fits both.

use std::path::{Path, PathBuf};

use crate::image::HostImage;
use crate::inject::InjectFile;
use crate::services::ImageChoice;

/// Where Debian installs each major version's programs and libraries.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The uid and gid the server runs as in the host image (Debian's `postgres`).
pub(super) const POSTGRES_UID: u32 = 999;

/// The major version used when neither the builder nor the host says one.
pub(super) const FALLBACK_VERSION: u32 = 17;

/// The newest major version the host has binaries of, if any.
pub(super) fn newest_on_host() -> Option<u32> {
    std::fs::read_dir(DEBIAN_ROOT)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|v| bin_dir(*v).join("postgres").exists())
        .max()
}

fn bin_dir(version: u32) -> PathBuf {
    Path::new(DEBIAN_ROOT).join(version.to_string()).join("bin")
}

/// The images PostgreSQL `version` can run from (the official one at `registry`, if
/// given).
pub(super) fn choice(version: u32, registry: Option<&str>) -> ImageChoice {
    let bin = bin_dir(version);
    let needs = ["postgres", "initdb", "pg_ctl", "psql"].map(|p| bin.join(p));
    let official = registry.map_or_else(|| format!("postgres:{version}-alpine"), str::to_owned);
    ImageChoice::new(format!("PostgreSQL {version}"), official).host(
        host_image(version),
        needs,
        format!("apt-get install postgresql-{version}"),
    )
}

/// The host binaries of `version`, their libraries and data, a shell for the
/// entrypoint and `pg_ctl`, and a `postgres` user (uid 999) owning its home.
fn host_image(version: u32) -> HostImage {
    let bin = bin_dir(version);
    let lib = Path::new(DEBIAN_ROOT).join(version.to_string()).join("lib");
    let share = format!("/usr/share/postgresql/{version}");
    let mut image = HostImage::new().binary("/bin/sh");
    for program in ["postgres", "initdb", "pg_ctl", "psql"] {
        image = image.binary(bin.join(program));
    }
    // Modules the server loads at run time (PL/pgSQL, text search dictionaries,
    // encodings, contrib), each with its own libraries; not the JIT (LLVM is 100 MB
    // and `jit` is off).
    for module in modules(&lib) {
        image = image.binary(module);
    }
    let id = POSTGRES_UID;
    image
        .file(InjectFile::from_host_dir(&share, &share))
        .file(InjectFile::from_host_file(
            "/usr/share/zoneinfo/UTC",
            "/usr/share/zoneinfo/UTC",
        ))
        .file(InjectFile::from_host_file(
            "/usr/share/zoneinfo/Etc/UTC",
            "/usr/share/zoneinfo/Etc/UTC",
        ))
        .file(InjectFile::dir("/var/lib/postgresql").owner(id, id))
        .file(
            InjectFile::dir("/var/run/postgresql")
                .mode(0o2775)
                .owner(id, id),
        )
        .file(InjectFile::dir("/docker-entrypoint-initdb.d"))
        .file(InjectFile::from_bytes("/usr/local/bin/docker-entrypoint.sh", ENTRYPOINT).mode(0o755))
        .user_account("postgres", id, "/var/lib/postgresql")
        .default_user("postgres")
        .default_env("PATH", format!("/usr/local/bin:{}:/bin", bin.display()))
        .default_env("PGDATA", "/var/lib/postgresql/data")
        .default_env("TZ", "UTC")
        .default_entrypoint(["docker-entrypoint.sh"])
        .default_cmd(["postgres"])
}

/// The shared objects in `lib` but the JIT's.
fn modules(lib: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(lib) else {
        return Vec::new();
    };
    let mut modules: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".so") && !name.starts_with("llvmjit")
        })
        .collect();
    modules.sort();
    modules
}

/// The official image's entrypoint contract, in POSIX sh with no other program than
/// PostgreSQL's own: `initdb` as `POSTGRES_USER` with `POSTGRES_PASSWORD` and
/// `POSTGRES_INITDB_ARGS`, `POSTGRES_DB` created, `/docker-entrypoint-initdb.d/*.sql`
/// run with `ON_ERROR_STOP` (and `*.sh` sourced) by a server listening on the socket
/// only, then the server for real with the container's arguments, listening on every
/// address unless a config file of its own says otherwise.
const ENTRYPOINT: &str = r#"#!/bin/sh
# testdock: the official postgres image's entrypoint contract for an image made from
# host binaries (the variables and /docker-entrypoint-initdb.d testdock uses).
set -eu
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi
shift
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    umask 077
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then
        printf '%s\n' "$POSTGRES_PASSWORD" > /tmp/.initdb-pw
        initdb --username="$user" --pwfile=/tmp/.initdb-pw ${POSTGRES_INITDB_ARGS:-}
        : > /tmp/.initdb-pw
    else
        initdb --username="$user" ${POSTGRES_INITDB_ARGS:-}
    fi
    umask 022
    printf 'host all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"
    # The official image listens on every address (its sample config says so).
    printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
    # A server for the init steps only when there are some (a start and a stop saved).
    steps=
    if [ "$db" != postgres ]; then steps=1; fi
    for f in /docker-entrypoint-initdb.d/*; do
        if [ -e "$f" ]; then steps=1; fi
    done
    if [ -n "$steps" ]; then
        pg_ctl -D "$PGDATA" -o "-c listen_addresses='' $*" -w start
        psql="psql -v ON_ERROR_STOP=1 --username $user --no-password --no-psqlrc"
        if [ "$db" != postgres ]; then
            $psql --dbname postgres -c "CREATE DATABASE \"$db\""
        fi
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
                *.sql) echo "$0: running $f"; $psql --dbname "$db" -f "$f"; echo ;;
                *.sh) echo "$0: sourcing $f"; . "$f" ;;
                *) if [ -e "$f" ]; then echo "$0: ignoring $f"; fi ;;
            esac
        done
        pg_ctl -D "$PGDATA" -m fast -w stop
    fi
    echo
    echo 'PostgreSQL init process complete; ready for start up.'
    echo
fi
exec postgres "$@"
"#;
