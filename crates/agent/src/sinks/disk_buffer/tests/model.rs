//! The model test: random appends, fsyncs, reads, deliveries and crashes that tear the newest
//! segment; every unacknowledged event must be replayed once, in order.

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<usize>),
    Sync,
    Read(usize),
    Deliver(usize),
    /// Kill the agent; the newest segment loses a random part of what was not fsynced.
    Crash(f64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec(0usize..600, 1..6).prop_map(Op::Append),
        2 => Just(Op::Sync),
        3 => (1usize..8).prop_map(Op::Read),
        3 => any::<usize>().prop_map(Op::Deliver),
        1 => (0.0f64..=1.0).prop_map(Op::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_unacknowledged_event_is_replayed_once_in_order(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 2048, 1 << 30);
        let (mut log, _) = open(&cfg);
        // The model: the log's events in order, how many are fsynced, how many were read,
        // which are delivered, and the chunks in flight.
        let mut events: Vec<u64> = Vec::new();
        let mut synced = 0usize;
        let mut read = 0usize;
        let mut delivered: HashSet<u64> = HashSet::new();
        let mut in_flight: Vec<(Pos, Vec<u64>)> = Vec::new();
        let mut next_id = 0u64;
        for op in ops {
            match op {
                Op::Append(lens) => {
                    let batch: Vec<Event> = lens.iter().map(|&len| { next_id += 1; event(next_id, len) }).collect();
                    log.append(&batch).unwrap();
                    events.extend(batch.iter().map(id));
                }
                Op::Sync => {
                    log.sync().unwrap();
                    synced = events.len();
                }
                Op::Read(max) => {
                    if let Some(chunk) = log.read_chunk(usize::MAX, max).unwrap() {
                        let ids: Vec<u64> = chunk.events.iter().map(id).collect();
                        prop_assert_eq!(&ids[..], &events[read..read + ids.len()]);
                        read += ids.len();
                        in_flight.push((chunk.start, ids));
                    } else {
                        prop_assert_eq!(read, events.len());
                    }
                }
                Op::Deliver(i) => {
                    if !in_flight.is_empty() {
                        let (start, ids) = in_flight.remove(i % in_flight.len());
                        log.delivered(start).unwrap();
                        delivered.extend(ids);
                    }
                }
                Op::Crash(cut) => {
                    let (path, len, synced_len) = log.newest_segment();
                    drop(log);
                    let keep = synced_len + ((len - synced_len) as f64 * cut) as u64;
                    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                    file.set_len(keep).unwrap();
                    drop(file);
                    let (mut recovered, _) = open(&cfg);
                    let replayed = read_all(&mut recovered);
                    // Replay starts after the delivered prefix; what follows comes back once,
                    // in order, all of it up to what a crash may tear (never anything fsynced).
                    let done = events.iter().take_while(|e| delivered.contains(e)).count();
                    prop_assert!(replayed.len() <= events.len() - done);
                    prop_assert_eq!(&replayed[..], &events[done..done + replayed.len()]);
                    prop_assert!(done + replayed.len() >= synced, "lost fsynced events: {} + {} < {}", done, replayed.len(), synced);
                    drop(recovered);
                    // Reading without delivering changes nothing: a clean restart replays the same.
                    let (again, report) = open(&cfg);
                    prop_assert!(report.torn_tail.is_none());
                    prop_assert_eq!(report.records as usize, replayed.len());
                    log = again;
                    events = replayed;
                    synced = events.len();
                    read = 0;
                    delivered.clear();
                    in_flight.clear();
                }
            }
        }
        // Finally everything not delivered is still there, once, in order.
        while let Some((start, _)) = in_flight.pop() {
            log.delivered(start).unwrap();
        }
        let rest = drain(&mut log);
        prop_assert_eq!(&rest[..], &events[read..]);
    }
}
