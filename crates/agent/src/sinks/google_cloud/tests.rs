//! Unit tests of the parts that need no network: parameters, text splitting, batching limits.
