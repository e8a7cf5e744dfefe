//! Loopback HTTP fronts for the API fixtures (PowerDNS, moto): one request per connection, passed
//! on to the server, so a test can shape what the client sees. [`slow_reads`] holds every GET's
//! answer back for a while, so that parallel runs all read a record set before any writes it: the
//! widest window a read-modify-write race can have, every time, instead of now and then.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// A front for the HTTP server at `upstream` that answers each GET `delay` late (each connection
/// on its own thread, so delays overlap); its base URL.
pub fn slow_reads(upstream: SocketAddr, delay: Duration) -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || pass_on(client, upstream, delay));
        }
    });
    url
}

fn pass_on(mut client: TcpStream, upstream: SocketAddr, delay: Duration) {
    let Some(request) = read_request(&mut client) else {
        return;
    };
    if request.starts_with(b"GET ") {
        std::thread::sleep(delay);
    }
    let mut answer = Vec::new();
    if let Ok(mut server) = TcpStream::connect(upstream)
        && server.write_all(&request).is_ok()
        && server.read_to_end(&mut answer).is_ok()
    {
        let _ = client.write_all(&answer);
    }
}

/// One HTTP request (head and a Content-Length body), asking the upstream to close after it.
pub fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    }
    let head = head.replacen("\r\n", "\r\nConnection: close\r\n", 1);
    let mut request = head.into_bytes();
    request.extend_from_slice(&data[head_end..]);
    Some(request)
}
