//! `top` answers in columns whichever engine gave them.
//!
//! Docker splits `ps` output into titles and cells. Podman 4, for an image with its own
//! `ps` (busybox), answers one title (`PID   USER     COMMAND`) and one cell per
//! process (`1 root     /bin/sleep 30`): that is split here at white space, the last
//! column keeping the rest of the line (a command's arguments).

use bollard::models::ContainerTopResponse;

/// `top` with a single, white-space-separated column split into its columns.
pub(super) fn columns(mut top: ContainerTopResponse) -> ContainerTopResponse {
    let titles: Vec<String> = match top.titles.as_deref() {
        Some([one]) if one.split_whitespace().count() > 1 => {
            one.split_whitespace().map(str::to_owned).collect()
        }
        _ => return top,
    };
    let n = titles.len();
    if let Some(rows) = top.processes.as_mut() {
        for row in rows.iter_mut() {
            if let [line] = row.as_slice() {
                *row = split_row(line, n);
            }
        }
    }
    top.titles = Some(titles);
    top
}

/// `line` as `n` cells: the first `n - 1` words, then the rest.
fn split_row(line: &str, n: usize) -> Vec<String> {
    let mut cells = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while cells.len() + 1 < n {
        let Some(end) = rest.find(char::is_whitespace) else {
            break;
        };
        cells.push(rest[..end].to_owned());
        rest = rest[end..].trim_start();
    }
    cells.push(rest.to_owned());
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(titles: &[&str], rows: &[&[&str]]) -> ContainerTopResponse {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        ContainerTopResponse {
            titles: Some(strings(titles)),
            processes: Some(rows.iter().map(|r| strings(r)).collect()),
        }
    }

    #[test]
    fn podmans_single_column_is_split_with_the_command_whole() {
        let podman = top(
            &["PID   USER     COMMAND"],
            &[&["1 root     /bin/sleep 30"]],
        );
        assert_eq!(
            columns(podman),
            top(
                &["PID", "USER", "COMMAND"],
                &[&["1", "root", "/bin/sleep 30"]]
            )
        );
    }

    #[test]
    fn dockers_columns_are_left_alone() {
        let docker = top(&["UID", "PID", "CMD"], &[&["root", "1", "sleep 30"]]);
        assert_eq!(columns(docker.clone()), docker);
    }
}
