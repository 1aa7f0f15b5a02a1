//! Inputs (`<source>`). Each source runs on its own thread, parses what it reads, runs the
//! filters and hands events to the outputs, blocking when they are full (backpressure).

pub mod forward;
pub mod monitor;
pub mod tail;

use crate::ack::Ack;
use crate::event::Event;

/// What a source hands to the router.
pub struct SourceBatch {
    pub events: Vec<Event>,
    pub ack: Ack,
    /// The source has read everything there is for now: outputs may flush without waiting.
    pub caught_up: bool,
}
