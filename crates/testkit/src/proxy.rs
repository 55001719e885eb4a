//! A TCP proxy that injects faults between a client and the billing server: it drops the
//! connection after forwarding a request (the server commits, the client never hears), delays
//! answers, resets connections, cuts answers in the middle, or holds every answer back (so a test
//! can kill the client while its request has been handled and the answer is still on the way).
//!
//! With several upstreams it is also the load balancer in front of server replicas: each
//! connection goes to the next replica in turn (round robin), and to the one after it when that
//! replica does not accept (killed, restarting), as a balancer's health check would.
//!
//! Used by the client engine's fault tests, the app's end-to-end tests and the server's
//! multi-replica fault test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
pub struct Counts {
    pub connections: AtomicU64,
    pub dropped_after_request: AtomicU64,
    /// Answers the server gave that the proxy held back.
    pub held: AtomicU64,
    pub delayed: AtomicU64,
    pub reset: AtomicU64,
    pub cut: AtomicU64,
}

/// What the proxy does to the connections it accepts from now on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Forwards everything.
    Pass = 0,
    /// Random faults: drops after the request, delays, resets, cuts.
    Random = 1,
    /// Every request reaches the server and every answer is lost.
    DropAnswers = 2,
    /// Every request reaches the server and its answer is held until the mode changes (then the
    /// connection closes unanswered) or the client goes away.
    HoldAnswers = 3,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    /// The current [`Mode`], as its number.
    pub faults: Arc<AtomicU8>,
    /// Bumped on every mode change: connections from before close at their next answer, so a
    /// pooled keep-alive connection cannot carry the old mode.
    pub generation: Arc<AtomicU64>,
    pub counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr, seed: u64) -> FaultProxy {
        FaultProxy::start_many(vec![upstream], seed).await
    }

    /// A proxy balancing connections over `upstreams`, round robin (see the module docs).
    pub async fn start_many(upstreams: Vec<SocketAddr>, seed: u64) -> FaultProxy {
        assert!(!upstreams.is_empty(), "a proxy needs an upstream");
        let upstreams: Arc<[SocketAddr]> = upstreams.into();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(AtomicU8::new(0));
        let generation = Arc::new(AtomicU64::new(0));
        let counts = Arc::new(Counts::default());
        let (f, c, g) = (faults.clone(), counts.clone(), generation.clone());
        let task = tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut next = 0usize;
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                c.connections.fetch_add(1, Ordering::Relaxed);
                let roll: u32 = match f.load(Ordering::SeqCst) {
                    1 => rng.gen_range(0..100),
                    2 => 0,
                    3 => HOLD,
                    _ => 100,
                };
                let delay = Duration::from_millis(rng.gen_range(50..400));
                let cut_at = rng.gen_range(1..60);
                let (c, g) = (c.clone(), g.clone());
                let born = g.load(Ordering::SeqCst);
                let (upstreams, first) = (upstreams.clone(), next);
                next = next.wrapping_add(1);
                tokio::spawn(async move {
                    let _ = handle(client, &upstreams, first, roll, delay, cut_at, &c, &g, born).await;
                });
            }
        });
        FaultProxy {
            addr,
            faults,
            generation,
            counts,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.faults.store(mode as u8, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Random faults on, or everything forwarded.
    pub fn set_faults(&self, on: bool) {
        self.set_mode(if on { Mode::Random } else { Mode::Pass });
    }

    /// Every request reaches the server and every answer is lost.
    pub fn drop_every_answer(&self) {
        self.set_mode(Mode::DropAnswers);
    }

    /// Every request reaches the server and every answer waits (see [`Mode::HoldAnswers`]).
    pub fn hold_every_answer(&self) {
        self.set_mode(Mode::HoldAnswers);
    }

    /// How many answers have been held back so far.
    pub fn held(&self) -> u64 {
        self.counts.held.load(Ordering::SeqCst)
    }
}

/// A connection to the first upstream, from `first` on in turn, that accepts one.
async fn connect_any(upstreams: &[SocketAddr], first: usize) -> std::io::Result<TcpStream> {
    let mut last = None;
    for i in 0..upstreams.len() {
        match TcpStream::connect(upstreams[(first + i) % upstreams.len()]).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no upstream")))
}

/// The roll that means "hold the answer" (random rolls are 0..100).
const HOLD: u32 = 1000;

#[allow(clippy::too_many_arguments)]
async fn handle(
    mut client: TcpStream,
    upstreams: &[SocketAddr],
    first: usize,
    roll: u32,
    delay: Duration,
    cut_at: usize,
    c: &Counts,
    g: &AtomicU64,
    born: u64,
) -> std::io::Result<()> {
    if (70..78).contains(&roll) {
        // Closed before anything is forwarded: the client sees the connection end unanswered.
        c.reset.fetch_add(1, Ordering::Relaxed);
        drop(client);
        return Ok(());
    }
    let mut server = connect_any(upstreams, first).await?;
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let up = async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = cr.read(&mut buf).await?;
            if n == 0 {
                return sw.shutdown().await;
            }
            sw.write_all(&buf[..n]).await?;
        }
    };
    let down = async {
        let mut buf = [0u8; 16 * 1024];
        let mut first = true;
        loop {
            let n = sr.read(&mut buf).await?;
            if n == 0 {
                return cw.shutdown().await;
            }
            if g.load(Ordering::SeqCst) != born {
                return Err(std::io::Error::other("closed by a mode change"));
            }
            if first {
                first = false;
                match roll {
                    HOLD => {
                        c.held.fetch_add(1, Ordering::SeqCst);
                        while g.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                        return Err(std::io::Error::other("held answer released unanswered"));
                    }
                    // The request reached the server; its answer never reaches the client.
                    0..=11 => {
                        c.dropped_after_request.fetch_add(1, Ordering::Relaxed);
                        return Err(std::io::Error::other("dropped after request"));
                    }
                    12..=21 => {
                        c.delayed.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(delay).await;
                    }
                    22..=29 => {
                        c.cut.fetch_add(1, Ordering::Relaxed);
                        cw.write_all(&buf[..n.min(cut_at)]).await?;
                        return Err(std::io::Error::other("cut mid-response"));
                    }
                    _ => {}
                }
            }
            cw.write_all(&buf[..n]).await?;
        }
    };
    tokio::select! {
        r = up => r,
        r = down => r,
    }
}
