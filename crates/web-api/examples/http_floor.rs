//! The floor under any HTTP server on this machine: one thread, no HTTP parsing beyond
//! counting request ends, no routing, no logging — it answers every request on a
//! keep-alive connection with the same fixed bytes `web-api` sends for `GET /`.
//!
//! `bench/web-api/run.sh` runs it under the same load as the real servers: its requests/s is
//! what the kernel's loopback TCP and the load generator leave for a server that does no work,
//! so it bounds the ratio any server can reach over FastAPI here.
//!
//! Usage: `http_floor [ADDR]` (default 127.0.0.1:0); prints `listening on ADDR`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 25\r\ndate: Thu, 26 Nov 2026 00:00:00 GMT\r\n\r\n{\"message\":\"Hello World\"}";

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(answer(stream));
        }
    })
}

/// Counts `\r\n\r\n` (requests here have no body) and answers each one.
async fn answer(mut stream: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::with_capacity(RESPONSE.len() * 16);
    // Bytes of a possibly split "\r\n\r\n" carried over from the previous read.
    let mut carry = 0usize;
    loop {
        let n = match stream.read(&mut buf[carry..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let data = &buf[..carry + n];
        let mut requests = 0;
        let mut last_end = 0;
        let mut i = 0;
        while i + 4 <= data.len() {
            if &data[i..i + 4] == b"\r\n\r\n" {
                requests += 1;
                i += 4;
                last_end = i;
            } else {
                i += 1;
            }
        }
        let keep = (data.len() - last_end).min(3);
        let from = data.len() - keep;
        buf.copy_within(from..from + keep, 0);
        carry = keep;
        out.clear();
        for _ in 0..requests {
            out.extend_from_slice(RESPONSE);
        }
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
    }
}
