//! Every log line of this test binary, at every level, kept in memory so a test can check that no
//! secret was ever logged.

use std::sync::{Mutex, Once, PoisonError};

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Writer;

impl std::io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts keeping every log line of this process (once; later calls do nothing).
pub fn capture() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| Writer)
            .try_init();
    });
}

/// Everything logged so far.
pub fn captured() -> Vec<u8> {
    LOGS.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Everything logged so far, as text.
pub fn captured_text() -> String {
    String::from_utf8_lossy(&captured()).into_owned()
}
