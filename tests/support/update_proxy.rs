//! A UDP proxy in front of a DNS server that loses or holds the replies to UPDATEs: the UPDATE itself
//! reaches the server and is applied, only its answer does not come back (or not yet). For the cases
//! "the reply was lost" and "killed while the UPDATE was in flight". Queries pass both ways.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What happens to an UPDATE's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The first `n` UPDATE replies are dropped, later ones pass.
    DropFirst(u32),
    /// Every UPDATE reply is dropped until [`UpdateProxy::pass_updates`] (the DNS library retries a
    /// lost UPDATE itself, so dropping one reply is not enough to lose the answer).
    DropAll,
}

pub struct UpdateProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    updates: Arc<AtomicU32>,
    pass: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UpdateProxy {
    /// Listens on `ip`, port chosen by the system, forwarding to `server`.
    pub fn start(ip: std::net::IpAddr, server: SocketAddr, mode: Mode) -> UpdateProxy {
        let socket = UdpSocket::bind((ip, 0)).expect("proxy socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let updates = Arc::new(AtomicU32::new(0));
        let pass = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, updates, pass) = (stop.clone(), updates.clone(), pass.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 65535];
                while !stop.load(Ordering::SeqCst) {
                    let Ok((n, client)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let request = buf[..n].to_vec();
                    // Opcode: bits 3-6 of the third byte; 5 is UPDATE.
                    let is_update = request.len() > 2 && (request[2] >> 3) & 0x0f == 5;
                    let upstream = UdpSocket::bind((ip, 0)).unwrap();
                    upstream
                        .set_read_timeout(Some(Duration::from_secs(3)))
                        .unwrap();
                    upstream.send_to(&request, server).unwrap();
                    let mut reply = [0u8; 65535];
                    let Ok((m, _)) = upstream.recv_from(&mut reply) else {
                        continue;
                    };
                    if is_update {
                        let seen = updates.fetch_add(1, Ordering::SeqCst) + 1;
                        let dropped = match mode {
                            Mode::DropFirst(n) => seen <= n,
                            Mode::DropAll => !pass.load(Ordering::SeqCst),
                        };
                        if dropped {
                            continue;
                        }
                    }
                    let _ = socket.send_to(&reply[..m], client);
                }
            })
        };
        UpdateProxy {
            addr,
            stop,
            updates,
            pass,
            thread: Some(thread),
        }
    }

    /// From now on UPDATE replies pass.
    pub fn pass_updates(&self) {
        self.pass.store(true, Ordering::SeqCst);
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// UPDATEs that reached the server through the proxy.
    pub fn updates(&self) -> u32 {
        self.updates.load(Ordering::SeqCst)
    }
}

impl Drop for UpdateProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
