//! How the agent asks glibc's allocator to return large buffers. A backlog goes out in
//! Cloud Logging requests of several MB, built on one thread and freed on another. glibc serves
//! blocks past its mmap threshold with their own mapping, returned to the system on free, but
//! it raises that threshold to the size of every such block freed (up to 32 MiB): from the
//! first request on, request bodies come from per-thread heaps, and what they free stays
//! resident and splits into holes. Measured on the 1M-line backlog at 50 ms (bench, same
//! machine): a peak RSS of 135-150 MiB with glibc's dynamic threshold, 90-97 MiB with it fixed.
//! Fixing it (any explicit `M_MMAP_THRESHOLD` turns the adjustment off) keeps every request body
//! in a mapping of its own, so the memory the output's byte bound counts is the memory the
//! process holds.
#![allow(unsafe_code)]

/// Blocks from this size on are mapped on their own: request bodies, the event lists of
/// merged chunks. (At 256 KiB the read buffers would be too, for ~8 MiB less peak RSS and
/// twice the system time in page faults.)
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Fixes glibc's mmap threshold (no-op on other C libraries, and when the user set glibc's own
/// `MALLOC_MMAP_THRESHOLD_`, which glibc has applied already).
pub fn return_large_blocks() {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called once at start, before
    // the runtime's threads exist, with a valid parameter and value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
