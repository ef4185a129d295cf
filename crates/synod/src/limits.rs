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

/// Allocations of at least this many bytes get a mapping of their own,
/// which goes back to the system when freed.
pub const ALLOCATION_MAPPED_MIN_BYTES: usize = 4 * 1024 * 1024;

/// Fixes glibc's threshold for mapping large allocations on their own.
/// Left to itself, glibc raises the threshold to the size of the largest
/// mapped block freed (up to 32 MiB), so after the first snapshot buffer
/// (12 MiB with 100,000 keys) the next ones come from the heap, which then
/// keeps the memory: nodes were resident at 122-124 MiB after a load where,
/// with the threshold fixed at 4 MiB, they were at 95-99 MiB. Only buffers
/// of that size are affected, and they are rare (snapshots).
pub fn return_large_allocations_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let threshold = i32::try_from(ALLOCATION_MAPPED_MIN_BYTES).expect("4 MiB fits in an i32");
        // SAFETY: mallopt only changes the allocator's tuning; it is called
        // at startup, before any other thread exists.
        let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) } == 1;
        if !set {
            tracing::warn!(
                "cannot set the allocator's mapping threshold; memory may stay resident"
            );
        }
    }
}
