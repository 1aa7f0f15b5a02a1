//! Per-file checkpoints that advance only over acknowledged chunks, in file order.
//!
//! Chunks are acknowledged out of order (several outputs, several requests in flight); the
//! persisted position is the end of the longest run of acknowledged chunks from the start, so a
//! crash never skips a chunk that is still in flight.

use std::collections::VecDeque;

#[derive(Debug, Default)]
pub(crate) struct Checkpoint {
    /// Everything before this offset is delivered.
    pub committed: u64,
    next_seq: u64,
    pending: VecDeque<Pending>,
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    /// The offset the consumer said it may commit, once acknowledged.
    commit: Option<u64>,
    /// Issued before a truncation: its offsets describe content that no longer exists.
    stale: bool,
}

impl Checkpoint {
    pub fn at(offset: u64) -> Self {
        Self {
            committed: offset,
            ..Self::default()
        }
    }

    /// Registers a chunk handed out; returns its sequence number.
    pub fn issue(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.push_back(Pending {
            seq,
            commit: None,
            stale: false,
        });
        seq
    }

    /// Records an acknowledgement; returns true when the committed offset moved.
    pub fn ack(&mut self, seq: u64, commit: u64) -> bool {
        let Some(front) = self.pending.front() else {
            return false;
        };
        let Some(index) = seq.checked_sub(front.seq) else {
            return false;
        };
        match self.pending.get_mut(index as usize) {
            Some(entry) if entry.seq == seq => entry.commit = Some(commit),
            _ => return false,
        }
        let before = self.committed;
        while let Some(Pending {
            commit: Some(offset),
            stale,
            ..
        }) = self.pending.front()
        {
            if !stale {
                self.committed = self.committed.max(*offset);
            }
            self.pending.pop_front();
        }
        self.committed != before
    }

    /// The file was truncated: start over at 0 and ignore acks of chunks read before.
    pub fn reset(&mut self) {
        self.committed = 0;
        for entry in &mut self.pending {
            entry.stale = true;
        }
    }

    pub fn idle(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_over_the_acknowledged_prefix_only() {
        let mut cp = Checkpoint::at(10);
        let a = cp.issue();
        let b = cp.issue();
        let c = cp.issue();
        assert!(!cp.ack(b, 30));
        assert_eq!(cp.committed, 10);
        assert!(cp.ack(a, 20));
        assert_eq!(cp.committed, 30);
        assert!(cp.ack(c, 40));
        assert!(cp.idle());
        assert!(!cp.ack(c, 99), "a repeated ack changes nothing");
    }

    #[test]
    fn acks_from_before_a_truncation_are_ignored() {
        let mut cp = Checkpoint::at(0);
        let old = cp.issue();
        cp.reset();
        let new = cp.issue();
        cp.ack(new, 5);
        cp.ack(old, 500);
        assert_eq!(cp.committed, 5);
    }
}
