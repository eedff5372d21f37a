//! How the server holds its TCP connections: accepting up to a cap, closing connections whose
//! request head is slow to arrive or that sit idle, and draining them on shutdown.
//!
//! hyper has one timer for both waits (its header timeout starts when a connection goes idle),
//! but they need different lengths: a request head arrives within a second or two, while an idle
//! keep-alive connection should outlive the reverse proxy's own idle timeout (nginx keeps idle
//! upstream connections 60 s; closing first races the proxy's next request into a 502). So each
//! connection carries an [`Activity`] record, written by its socket wrapper and its service, and a
//! small task applies [`decide`] to it.
//!
//! On shutdown no connection is cut while it carries a request: a busy one finishes its response
//! with `Connection: close`; an idle one gets a short linger, so that a request already on its
//! way is answered (with `Connection: close`) rather than met by a reset, and is closed after it.

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, Semaphore, watch},
    task::JoinSet,
    time::Instant,
};
use tower::ServiceExt;

use crate::metrics::Metrics;

/// Connection-level limits (`consentry serve --header-read-timeout-secs` and the like).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time for a request head to arrive, from its first byte.
    pub header_read: Duration,
    /// Time a connection may sit with nothing in flight before it is closed.
    pub idle: Duration,
    /// Connections open at once; beyond it the server stops accepting until one closes (new ones
    /// wait in the kernel's backlog).
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight before cutting what is left.
    pub shutdown_grace: Duration,
    /// How long an idle connection is kept open once shutdown has begun, for a request already
    /// on its way.
    pub shutdown_linger: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(75),
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(20),
            shutdown_linger: Duration::from_millis(500),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The rule

/// What a connection is doing, as its socket and service last recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Requests handed to the application and not yet answered.
    pub in_flight: usize,
    /// The last byte read or written.
    pub last_activity: Instant,
    /// The first byte of a request head that has not yet reached the application.
    pub head_started: Option<Instant>,
}

/// What to do with a connection now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing until this time (or until its activity changes).
    WaitUntil(Instant),
    /// Let hyper finish the response in progress, if any, then close (`Connection: close`).
    Finish,
    /// Close now: nothing is in flight that could be answered.
    Close(CloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// A request head took longer than [`ConnectionLimits::header_read`].
    SlowHeader,
    /// Nothing in flight for [`ConnectionLimits::idle`] (closed the polite way, by hyper).
    Idle,
    /// Nothing moved for [`ConnectionLimits::idle`] after the connection was asked to finish.
    Stalled,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SlowHeader => "header_timeout",
            Self::Idle => "idle",
            Self::Stalled => "stalled",
        }
    }
}

/// The connection rule. `shutdown_at` is when the server began shutting down; `finishing_since`
/// is when the connection was asked to finish, if it was.
pub fn decide(
    s: Snapshot,
    limits: &ConnectionLimits,
    now: Instant,
    shutdown_at: Option<Instant>,
    finishing_since: Option<Instant>,
) -> Verdict {
    // A request head is arriving: it gets its time, shutdown or not (a request already on its
    // way is answered), and no more.
    if s.in_flight == 0
        && let Some(started) = s.head_started
    {
        let deadline = started + limits.header_read;
        return if now >= deadline {
            Verdict::Close(CloseReason::SlowHeader)
        } else {
            Verdict::WaitUntil(deadline)
        };
    }
    if let Some(since) = finishing_since {
        // hyper closes it once the response is out (an idle one at once); a peer that stops
        // reading is let go after the idle time, counted from the request to finish at the
        // earliest.
        let quiet_until = s.last_activity.max(since) + limits.idle;
        return if now >= quiet_until {
            Verdict::Close(CloseReason::Stalled)
        } else {
            Verdict::WaitUntil(quiet_until)
        };
    }
    let quiet_until = s.last_activity + limits.idle;
    if s.in_flight > 0 {
        // The request timeout bounds the handler; look again when it ends (a change) or later.
        return if shutdown_at.is_some() {
            Verdict::Finish
        } else {
            Verdict::WaitUntil(now + limits.idle)
        };
    }
    let deadline = match shutdown_at {
        Some(at) => quiet_until.min(at + limits.shutdown_linger),
        None => quiet_until,
    };
    if now >= deadline {
        Verdict::Finish
    } else {
        Verdict::WaitUntil(deadline)
    }
}

// ---------------------------------------------------------------------------------------------
// The record

/// Written by the connection's socket wrapper and service, read by its watcher. Times are
/// milliseconds since the connection opened (0 for "none" where it is optional, so stored + 1).
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    last_activity_ms: AtomicU64,
    head_started_ms: AtomicU64,
    /// Wakes the watcher when a request head starts or a request begins or ends (not on every
    /// byte: more activity only moves a deadline later, which the watcher finds when it wakes).
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_activity_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    fn snapshot(&self) -> Snapshot {
        let head = self.head_started_ms.load(Ordering::Acquire);
        Snapshot {
            in_flight: self.in_flight.load(Ordering::Acquire),
            last_activity: self.at(self.last_activity_ms.load(Ordering::Acquire)),
            head_started: (head > 0).then(|| self.at(head - 1)),
        }
    }

    fn read(&self) {
        let now = self.elapsed_ms();
        self.last_activity_ms.store(now, Ordering::Release);
        if self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_started_ms
                .compare_exchange(0, now + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    fn wrote(&self) {
        self.last_activity_ms
            .store(self.elapsed_ms(), Ordering::Release);
    }

    fn request_began(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started_ms.store(0, Ordering::Release);
        self.changed.notify_one();
    }

    fn request_ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.wrote();
        self.changed.notify_one();
    }
}

/// The socket, recording when bytes move.
struct WatchedStream {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request in flight for as long as it lives (also when hyper drops it unanswered).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// The application, as hyper calls it for one connection.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send>>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        self.activity.request_began();
        let in_flight = InFlight(self.activity.clone());
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request.map(axum::body::Body::new)).await;
            drop(in_flight);
            response
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The server

/// Serve `router` on `listener` until `shutdown` turns true, then drain: stop accepting, let
/// requests in flight finish (at most [`ConnectionLimits::shutdown_grace`]) and close.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut warned_full = false;
    loop {
        while connections.try_join_next().is_some() {}
        if slots.available_permits() == 0 && !warned_full {
            tracing::warn!(
                max = limits.max_connections,
                "connection limit reached: new connections wait until one closes"
            );
            warned_full = true;
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                warned_full = false;
                let connection = serve_connection(
                    stream,
                    peer,
                    router.clone(),
                    limits,
                    metrics.clone(),
                    shutdown.clone(),
                );
                connections.spawn(async move {
                    connection.await;
                    drop(slot);
                });
            }
            // Out of file descriptors and the like: the listener itself is fine; wait a moment
            // instead of spinning.
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // Connections the kernel completed before we stopped accepting are taken and answered, not
    // reset by closing the listener under them.
    while let Some(Ok((stream, peer))) = listener.accept().now_or_never() {
        connections.spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            limits,
            metrics.clone(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    let open = connections.len();
    tracing::info!(open, "stopped accepting; finishing requests in flight");
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            cut = connections.len(),
            "shutdown grace period over: closing connections still busy"
        );
        connections.shutdown().await;
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Small request/response pairs: do not let Nagle hold the last segment of an answer.
    stream.set_nodelay(true).ok();
    let activity = Arc::new(Activity::new());
    let _open = metrics.connection_opened();
    let io = TokioIo::new(WatchedStream {
        inner: stream,
        activity: activity.clone(),
    });
    let service = ConnectionService {
        router,
        peer,
        activity: activity.clone(),
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut shutdown_at = shutdown.borrow().then(Instant::now);
    let mut finishing_since = None;
    loop {
        match decide(
            activity.snapshot(),
            &limits,
            Instant::now(),
            shutdown_at,
            finishing_since,
        ) {
            Verdict::Close(reason) => {
                metrics.connection_closed(reason.as_str());
                return;
            }
            // `decide` never answers Finish to a connection already finishing.
            Verdict::Finish => {
                if shutdown_at.is_none() {
                    metrics.connection_closed(CloseReason::Idle.as_str());
                }
                connection.as_mut().graceful_shutdown();
                finishing_since = Some(Instant::now());
            }
            Verdict::WaitUntil(deadline) => {
                tokio::select! {
                    // Closed by the peer, by hyper after a finished response, or on an error the
                    // client caused (a malformed request): nothing to do either way.
                    _ = connection.as_mut() => return,
                    () = tokio::time::sleep_until(deadline) => {}
                    () = activity.changed.notified() => {}
                    _ = shutdown.wait_for(|stop| *stop), if shutdown_at.is_none() => {
                        shutdown_at = Some(Instant::now());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            max_connections: 10,
            shutdown_grace: Duration::from_secs(20),
            shutdown_linger: Duration::from_secs(1),
        }
    }

    fn idle_since(at: Instant) -> Snapshot {
        Snapshot {
            in_flight: 0,
            last_activity: at,
            head_started: None,
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_slow_request_head_is_closed_when_its_time_is_up_and_not_before() {
        let t0 = Instant::now();
        let mut s = idle_since(t0);
        s.head_started = Some(t0);
        // Bytes keep trickling in (last activity moves), the head's deadline does not.
        s.last_activity = t0 + S(9);
        assert_eq!(
            decide(s, &limits(), t0 + S(9), None, None),
            Verdict::WaitUntil(t0 + S(10))
        );
        assert_eq!(
            decide(s, &limits(), t0 + S(10), None, None),
            Verdict::Close(CloseReason::SlowHeader)
        );
        // Shutdown does not cut a head short of its time, nor extend it.
        assert_eq!(
            decide(s, &limits(), t0 + S(9), Some(t0), None),
            Verdict::WaitUntil(t0 + S(10))
        );
    }

    #[test]
    fn an_idle_connection_is_let_go_after_the_idle_time() {
        let t0 = Instant::now();
        let s = idle_since(t0);
        assert_eq!(
            decide(s, &limits(), t0 + S(59), None, None),
            Verdict::WaitUntil(t0 + S(60))
        );
        assert_eq!(
            decide(s, &limits(), t0 + S(60), None, None),
            Verdict::Finish
        );
    }

    #[test]
    fn a_request_in_flight_is_never_cut_and_finishes_on_shutdown() {
        let t0 = Instant::now();
        let s = Snapshot {
            in_flight: 1,
            last_activity: t0,
            head_started: None,
        };
        // Quiet for longer than the idle time: the handler is still working.
        assert!(matches!(
            decide(s, &limits(), t0 + S(120), None, None),
            Verdict::WaitUntil(_)
        ));
        assert_eq!(
            decide(s, &limits(), t0 + S(1), Some(t0), None),
            Verdict::Finish
        );
    }

    #[test]
    fn on_shutdown_an_idle_connection_lingers_briefly_for_a_request_on_its_way() {
        let t0 = Instant::now();
        let s = idle_since(t0);
        let stop = t0 + S(5);
        assert_eq!(
            decide(s, &limits(), stop, Some(stop), None),
            Verdict::WaitUntil(stop + S(1))
        );
        assert_eq!(
            decide(s, &limits(), stop + S(1), Some(stop), None),
            Verdict::Finish
        );
        // A request that starts meanwhile is read and answered.
        let mut arriving = s;
        arriving.head_started = Some(stop + Duration::from_millis(500));
        assert!(matches!(
            decide(arriving, &limits(), stop + S(1), Some(stop), None),
            Verdict::WaitUntil(_)
        ));
    }

    #[test]
    fn a_peer_that_stops_reading_while_finishing_is_let_go() {
        let t0 = Instant::now();
        let s = idle_since(t0);
        assert_eq!(
            decide(s, &limits(), t0 + S(30), Some(t0), Some(t0)),
            Verdict::WaitUntil(t0 + S(60))
        );
        assert_eq!(
            decide(s, &limits(), t0 + S(60), Some(t0), Some(t0)),
            Verdict::Close(CloseReason::Stalled)
        );
    }

    #[test]
    fn a_connection_asked_to_finish_when_idle_is_left_to_close_not_cut_at_once() {
        let t0 = Instant::now();
        let s = idle_since(t0);
        let asked = t0 + S(60);
        assert_eq!(decide(s, &limits(), asked, None, None), Verdict::Finish);
        // Quiet since long before: the idle time counts from the request to finish.
        assert_eq!(
            decide(s, &limits(), asked, None, Some(asked)),
            Verdict::WaitUntil(asked + S(60))
        );
    }
}
