//! Acknowledgements: a source learns that a batch is delivered only when every output that
//! received part of it says so. A clone is handed to each output; dropping one without
//! [`Ack::done`] (a failed shutdown, a crash) means "not delivered", never "delivered".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

type Callback = Box<dyn FnOnce() + Send>;

/// A share of the responsibility for delivering one source batch.
pub struct Ack {
    inner: Arc<Inner>,
}

struct Inner {
    outstanding: AtomicUsize,
    on_delivered: Mutex<Option<Callback>>,
}

impl Ack {
    /// `on_delivered` runs once, when the last share is marked done.
    pub fn new(on_delivered: impl FnOnce() + Send + 'static) -> Self {
        Self {
            inner: Arc::new(Inner {
                outstanding: AtomicUsize::new(1),
                on_delivered: Mutex::new(Some(Box::new(on_delivered))),
            }),
        }
    }

    /// An acknowledgement nobody waits for (tests, sources without positions).
    pub fn none() -> Self {
        Self::new(|| {})
    }

    /// Marks this share delivered.
    pub fn done(self) {
        if self.inner.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            let callback = self
                .inner
                .on_delivered
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            if let Some(callback) = callback {
                callback();
            }
        }
    }
}

impl Clone for Ack {
    fn clone(&self) -> Self {
        self.inner.outstanding.fetch_add(1, Ordering::AcqRel);
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ack")
            .field(
                "outstanding",
                &self.inner.outstanding.load(Ordering::Relaxed),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn fires_once_when_every_share_is_done() {
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        let ack = Ack::new(move || flag.store(true, Ordering::SeqCst));
        let a = ack.clone();
        let b = ack.clone();
        ack.done();
        a.done();
        assert!(!fired.load(Ordering::SeqCst));
        b.done();
        assert!(fired.load(Ordering::SeqCst));
    }

    #[test]
    fn a_dropped_share_never_acknowledges() {
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        let ack = Ack::new(move || flag.store(true, Ordering::SeqCst));
        let lost = ack.clone();
        ack.done();
        drop(lost);
        assert!(!fired.load(Ordering::SeqCst));
    }
}
