//! The stable-Rust fuzzing that CI runs inside `cargo test`: each crate's `tests/fuzz_smoke.rs`
//! includes this file and runs its cargo-fuzz target's body over `fuzz/corpus/<target>/` and a
//! few thousand seeded mutations of it (bit flips, byte sets, token inserts, deletions,
//! duplications, splices). No coverage feedback, so it finds shallow bugs only; `cargo fuzz run`
//! by hand goes deeper (see `fuzz/README.md`).
//!
//! Knobs: `LOGFERRY_FUZZ_SMOKE_ITERS` (default 4000), `LOGFERRY_FUZZ_SMOKE_SECS` (default 6),
//! `LOGFERRY_FUZZ_SMOKE_SEED` (a different seed explores different inputs).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Inputs grow no larger than this or the longest seed, whichever is larger: what libFuzzer
/// (and so `cargo fuzz run`) picks when no `-max_len` is given. A target whose bugs need long
/// inputs (the query parser's nesting and length limits) gets them from a long seed.
const MIN_MAX_LEN: usize = 4096;

/// Runs `body` over the seed corpus of `target`, then over mutations until the iteration or
/// time budget is spent. A panic is reported with the input that caused it, which is also saved
/// under the test's temp dir for `cargo fuzz run <target> <file>`.
pub fn run(target: &str, dictionary: &[&[u8]], body: fn(&[u8])) {
    let seeds = load_corpus(target);
    assert!(!seeds.is_empty(), "no seeds in fuzz/corpus/{target}");
    let iterations = env_number("LOGFERRY_FUZZ_SMOKE_ITERS", 4000);
    let budget = Duration::from_secs(env_number("LOGFERRY_FUZZ_SMOKE_SECS", 6));
    let seed = env_number("LOGFERRY_FUZZ_SMOKE_SEED", 0)
        ^ target.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let mut rng = Rng(seed | 1);
    let max_len = seeds
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(MIN_MAX_LEN);
    for input in &seeds {
        check(target, body, input);
    }
    let mut pool = seeds.clone();
    let started = Instant::now();
    let mut done = 0;
    while done < iterations && started.elapsed() < budget {
        let mut input = pool[rng.below(pool.len())].clone();
        for _ in 0..=rng.below(4) {
            mutate(&mut input, &pool, dictionary, &mut rng);
        }
        input.truncate(max_len);
        check(target, body, &input);
        // Keep some mutants as parents so changes can pile up, without losing the seeds.
        if rng.below(8) == 0 {
            if pool.len() < seeds.len() + 64 {
                pool.push(input);
            } else {
                let slot = seeds.len() + rng.below(64);
                pool[slot] = input;
            }
        }
        done += 1;
    }
    eprintln!(
        "fuzz smoke `{target}`: {} seeds, {done} mutations of up to {max_len} bytes in {:.1?}",
        seeds.len(),
        started.elapsed()
    );
}

fn check(target: &str, body: fn(&[u8]), input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| body(input))).is_err() {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-smoke");
        let file = dir.join(format!("crash-{target}"));
        let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, input));
        panic!(
            "fuzz target `{target}` panicked (input {}) on {} bytes: b\"{}\"",
            match saved {
                Ok(()) => format!("saved to {}", file.display()),
                Err(e) => format!("not saved: {e}"),
            },
            input.len(),
            input.escape_ascii()
        );
    }
}

fn load_corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Bytes that matter to most text formats; the targets add their own tokens.
const INTERESTING: &[u8] = b"\0\t\n\r \"#'()*,-.0123456789:<>@[\\]{|}\x7f\x80\xbf\xc3\xe3\xf0\xff";

fn mutate(input: &mut Vec<u8>, pool: &[Vec<u8>], dictionary: &[&[u8]], rng: &mut Rng) {
    let len = input.len();
    match rng.below(9) {
        0 if len > 0 => input[rng.below(len)] ^= 1 << rng.below(8),
        1 if len > 0 => input[rng.below(len)] = INTERESTING[rng.below(INTERESTING.len())],
        2 => {
            let at = rng.below(len + 1);
            input.insert(at, INTERESTING[rng.below(INTERESTING.len())]);
        }
        3 if !dictionary.is_empty() => {
            let token = dictionary[rng.below(dictionary.len())];
            let at = rng.below(len + 1);
            input.splice(at..at, token.iter().copied());
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let end = at + 1 + rng.below((len - at).min(32));
            input.drain(at..end);
        }
        5 if len > 0 => {
            // Repeat a range: deep nesting, long runs, many entries.
            let at = rng.below(len);
            let end = at + 1 + rng.below((len - at).min(64));
            let chunk = input[at..end].to_vec();
            for _ in 0..=rng.below(16) {
                input.splice(end..end, chunk.iter().copied());
            }
        }
        6 => {
            let other = &pool[rng.below(pool.len())];
            let from = rng.below(other.len() + 1);
            let to = from + rng.below(other.len() - from + 1);
            let at = rng.below(len + 1);
            input.splice(at..at, other[from..to].iter().copied());
        }
        7 if len > 0 => input.truncate(rng.below(len)),
        _ => {
            let at = rng.below(len + 1);
            let digits = [
                "0",
                "-1",
                "255",
                "4294967296",
                "9223372036854775808",
                "1e400",
                "NaN",
            ];
            input.splice(at..at, digits[rng.below(digits.len())].bytes());
        }
    }
}

/// xorshift64*: deterministic, dependency-free, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize % n.max(1)
    }
}
