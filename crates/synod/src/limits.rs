//! Process limits a node needs.

/// Raises the soft limit on open files to the hard limit: a node holds one
/// descriptor per client connection, and the usual soft limit (1,024) is
/// far below the connection limit the server enforces itself.
pub fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    let raised = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && {
            if limit.rlim_cur < limit.rlim_max {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0
            } else {
                true
            }
        }
    };
    if raised {
        tracing::debug!(open_files_max = limit.rlim_cur, "open files limit");
    } else {
        tracing::warn!(
            "cannot raise the open files limit; client connections may be refused early"
        );
    }
}
