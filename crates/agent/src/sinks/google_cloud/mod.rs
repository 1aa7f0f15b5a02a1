//! `@type google_cloud`: ships events to Cloud Logging's `entries:write` (placeholder until
//! the sink lands; see the issue tracker).
