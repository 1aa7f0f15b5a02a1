//! `Record::memory_size` against what the allocator really hands out for the records a node
//! agent builds (a CRI line parsed into a map, with Kubernetes metadata): the buffers bound
//! memory with it, so it must not undercount the way the encoded size does (a quarter of
//! the real cost for such maps).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use agent::event::Record;
use serde_json::{Map, Value, json};

/// Counts this thread's live heap bytes, each block as glibc's malloc sizes it (8 bytes of
/// header, 16-byte steps, 32 at least).
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn block(size: usize) -> isize {
    ((size + 8 + 15) & !15).max(32) as isize
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.with(|l| l.set(l.get() + block(layout.size())));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.with(|l| l.set(l.get() - block(layout.size())));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.with(|l| l.set(l.get() - block(layout.size()) + block(new_size)));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

/// The heap one record built from `value` holds (what is left once the build's temporaries
/// are gone).
fn measured(value: &Value) -> (usize, Record) {
    let text = value.to_string();
    let before = live();
    let map: Map<String, Value> = serde_json::from_str(&text).unwrap();
    let record = Record::Map(map);
    let after = live();
    ((after - before) as usize, record)
}

fn cri_record(i: usize) -> Value {
    json!({
        "time": "2026-12-03T05:41:07.123456789Z",
        "stream": if i.is_multiple_of(2) { "stdout" } else { "stderr" },
        "logtag": "F",
        "message": format!("INFO:     10.0.{}.7:52144 - \"GET /items/{i} HTTP/1.1\" 200 OK", i % 250),
        "kubernetes": {
            "namespace_name": "shop",
            "pod_name": format!("web-7d9f8c6b5-{i:05}"),
            "container_name": "api",
            "pod_id": "5f0e7c1a-1b2c-4d3e-8f40-5a6b7c8d9e10",
        },
        "docker": {"container_id": "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100"},
    })
}

#[test]
fn a_map_record_is_counted_near_what_the_allocator_holds() {
    let wide: Map<String, Value> = (0..40)
        .map(|k| (format!("field_{k}"), json!(format!("value number {k}"))))
        .collect();
    let nested = json!({
        "message": "x".repeat(300),
        "tags": ["a", "bb", "a longer tag than sixteen bytes"],
        "numbers": [1, 2.5, 3],
        "ok": true,
        "inner": {"deeper": {"leaf": "text", "n": 7}},
    });
    for (name, value) in [
        ("cri with kubernetes metadata", cri_record(12)),
        ("40 fields", Value::Object(wide)),
        ("nested", nested),
    ] {
        let (heap, record) = measured(&value);
        let counted = record.memory_size() - std::mem::size_of::<agent::event::Event>();
        let encoded = record.approx_size();
        assert!(
            counted as f64 >= heap as f64 * 0.85 && counted as f64 <= heap as f64 * 1.3,
            "{name}: counted {counted} bytes, the allocator holds {heap} (encoded size {encoded})"
        );
        println!("{name}: heap {heap}, counted {counted}, encoded {encoded}");
    }
    // Lines are their bytes (what the sidecar's measured bounds were set with).
    let line = Record::Line(bytes::Bytes::from_static(b"GET /items 200"));
    assert_eq!(line.memory_size(), line.approx_size());
}
