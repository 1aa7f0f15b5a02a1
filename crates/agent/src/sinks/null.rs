//! `@type null`: accepts and discards, like fluentd's `out_null`.

use std::sync::Arc;

use super::{SendFuture, Sink};
use crate::event::Event;

pub struct NullSink;

impl Sink for NullSink {
    fn send(&self, _chunk: Arc<Vec<Event>>) -> SendFuture {
        Box::pin(async { Ok(()) })
    }

    fn concurrency(&self) -> usize {
        4
    }
}
