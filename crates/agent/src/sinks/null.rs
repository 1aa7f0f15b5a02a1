//! `@type null`: accepts and discards, like fluentd's `out_null`.

use super::{Concurrency, Delivery, SendFuture, Sink, ready};

pub struct NullSink;

impl Sink for NullSink {
    fn send(&self, delivery: Delivery) -> SendFuture {
        ready(delivery, Ok(()))
    }

    fn concurrency(&self) -> Concurrency {
        Concurrency::Fixed(4)
    }
}
