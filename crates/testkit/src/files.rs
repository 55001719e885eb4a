//! A tiny HTTP/1.1 file server on a loopback port (a stand-in for an update server in tests),
//! stopped when dropped. It counts the requests for each path.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The content of a served "file" that redirects: `redirect:` followed by the target URL.
pub const REDIRECT: &[u8] = b"redirect:";

pub struct FileServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<HashMap<String, u32>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileServer {
    /// Serves the files `files` makes from the server's own base URL (`http://127.0.0.1:port`),
    /// by path; anything else is 404.
    pub fn serve(files: impl FnOnce(&str) -> HashMap<&'static str, Vec<u8>>) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let files = files(&format!("http://{addr}"));
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let (stopping, counting) = (Arc::clone(&stop), Arc::clone(&hits));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    answer(stream, &files, &counting);
                }
            }
        });
        FileServer {
            addr,
            stop,
            hits,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests asked for `path`.
    pub fn hits(&self, path: &str) -> u32 {
        self.hits.lock().map(|h| h.get(path).copied().unwrap_or(0)).unwrap_or(0)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(stream: TcpStream, files: &HashMap<&'static str, Vec<u8>>, hits: &Mutex<HashMap<String, u32>>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Skip the headers (the requests served here have no body).
    let mut line = String::new();
    while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
        line.clear();
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or(target);
    if let Ok(mut h) = hits.lock() {
        *h.entry(path.to_string()).or_default() += 1;
    }
    let mut stream = reader.into_inner();
    let _ = match files.get(path) {
        // A file whose content is `redirect:URL` answers 302 to that URL.
        Some(body) if body.starts_with(REDIRECT) => {
            let location = String::from_utf8_lossy(&body[REDIRECT.len()..]).into_owned();
            let head =
                format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes())
        }
        Some(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body))
        }
        None => stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
    let _ = stream.flush();
}
