//! The deadline for a request head (slow-client protection), kept on a coarse clock.
//!
//! hyper closes a connection whose request head has not arrived within its
//! `header_read_timeout`; the wait for the next request on a kept-alive connection
//! counts too, so an idle connection is closed after that time. hyper asks its timer
//! for a new sleep for every request head. With tokio's timer, a kept-alive connection
//! waiting for its next request puts that sleep in the timer wheel (a lock and a clock
//! read) and takes it out again when the head arrives: about 1,800 instructions a
//! request under callgrind, some 4% of everything aimock does to answer one.
//!
//! Here a connection gets one `Slot`, listed once when it is accepted. A sleep writes
//! its deadline and waker into its connection's slot when it is polled, and takes them
//! out when dropped (a lock nobody else holds). One sweeper task ticks once a second: it
//! advances the coarse clock and wakes every slot whose deadline has passed. A timeout
//! therefore fires up to about a tick late (30 s is 30 to 32 s), which slow-client
//! protection does not mind.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// How often the sweeper wakes expired deadlines.
pub const TICK: Duration = Duration::from_secs(1);

/// The coarse clock and the slots of every open connection.
#[derive(Debug)]
pub struct Sweeper {
    /// Time zero of the coarse clock.
    base: Instant,
    /// Milliseconds since `base`, as of the last tick.
    now_ms: AtomicU64,
    /// Every connection's slot; a closed connection's is pruned on the next tick.
    slots: Mutex<Vec<Weak<Slot>>>,
}

/// One connection's armed deadline, if any.
#[derive(Debug)]
struct Slot {
    sweeper: Arc<Sweeper>,
    armed: Mutex<Option<Armed>>,
}

#[derive(Debug)]
struct Armed {
    /// Which sleep armed it: a sleep dropped late must not disarm a newer one.
    token: u64,
    deadline_ms: u64,
    waker: Waker,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here panics while holding a lock; should it, the data is still whole.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sweeper {
    /// A sweeper whose clock starts now.
    pub fn new() -> Arc<Sweeper> {
        Arc::new(Sweeper {
            base: Instant::now(),
            now_ms: AtomicU64::new(0),
            slots: Mutex::new(Vec::new()),
        })
    }

    /// The timer for one new connection: hand it to that connection's hyper builder.
    pub fn connection(self: &Arc<Sweeper>) -> ConnectionTimer {
        let slot = Arc::new(Slot {
            sweeper: self.clone(),
            armed: Mutex::new(None),
        });
        lock(&self.slots).push(Arc::downgrade(&slot));
        ConnectionTimer {
            slot,
            tokens: AtomicU64::new(0),
        }
    }

    /// Tick every [`TICK`] until the task is dropped or aborted.
    pub async fn run(self: Arc<Sweeper>) {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            self.tick(self.base.elapsed().as_millis() as u64);
        }
    }

    /// Advance the clock to `now_ms` and wake every deadline at or before it; forget
    /// the slots of closed connections.
    fn tick(&self, now_ms: u64) {
        self.now_ms.fetch_max(now_ms, Ordering::Release);
        let mut due = Vec::new();
        lock(&self.slots).retain(|weak| {
            let Some(slot) = weak.upgrade() else {
                return false;
            };
            if let Some(a) = lock(&slot.armed).take_if(|a| a.deadline_ms <= now_ms) {
                due.push(a.waker);
            }
            true
        });
        // Woken outside the locks: a waker may run code of its own.
        for waker in due {
            waker.wake();
        }
    }

    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Acquire)
    }

    fn ms_of(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base).as_millis() as u64
    }

    /// Connections listed (open ones, and closed ones not yet pruned).
    #[cfg(test)]
    fn listed(&self) -> usize {
        lock(&self.slots).len()
    }
}

/// hyper's timer for one connection.
#[derive(Debug)]
pub struct ConnectionTimer {
    slot: Arc<Slot>,
    tokens: AtomicU64,
}

impl Timer for ConnectionTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeadSleep {
            slot: self.slot.clone(),
            token: self.tokens.fetch_add(1, Ordering::Relaxed),
            deadline_ms: self.slot.sweeper.ms_of(deadline),
        })
    }

    /// The coarse clock: up to a tick behind, and no clock read.
    fn now(&self) -> Instant {
        let s = &self.slot.sweeper;
        s.base + Duration::from_millis(s.now_ms())
    }
}

/// A deadline of one connection; ready once the coarse clock reaches it.
struct HeadSleep {
    slot: Arc<Slot>,
    token: u64,
    deadline_ms: u64,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.slot.sweeper.now_ms() >= self.deadline_ms {
            return Poll::Ready(());
        }
        // A tick between the check above and the arming below misses this deadline
        // once; the next tick wakes it.
        let mut armed = lock(&self.slot.armed);
        match armed.as_mut() {
            Some(a) if a.token == self.token => {
                if !a.waker.will_wake(cx.waker()) {
                    a.waker = cx.waker().clone();
                }
            }
            _ => {
                *armed = Some(Armed {
                    token: self.token,
                    deadline_ms: self.deadline_ms,
                    waker: cx.waker().clone(),
                })
            }
        }
        Poll::Pending
    }
}

impl Drop for HeadSleep {
    fn drop(&mut self) {
        let mut armed = lock(&self.slot.armed);
        if armed.as_ref().is_some_and(|a| a.token == self.token) {
            *armed = None;
        }
    }
}

impl Sleep for HeadSleep {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(s: &mut Pin<Box<dyn Sleep>>, count: &Arc<Count>) -> Poll<()> {
        let waker = Waker::from(count.clone());
        s.as_mut().poll(&mut Context::from_waker(&waker))
    }

    fn after(sweeper: &Sweeper, ms: u64) -> Instant {
        sweeper.base + Duration::from_millis(ms)
    }

    #[test]
    fn a_deadline_fires_on_the_first_tick_at_or_past_it() {
        let sweeper = Sweeper::new();
        let timer = sweeper.connection();
        let mut s = timer.sleep_until(after(&sweeper, 5_000));
        let count = Arc::new(Count::default());
        assert!(poll(&mut s, &count).is_pending());
        sweeper.tick(4_999);
        assert_eq!(count.0.load(Ordering::SeqCst), 0, "not due yet");
        assert!(poll(&mut s, &count).is_pending());
        sweeper.tick(5_000);
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken when due");
        assert!(poll(&mut s, &count).is_ready());
    }

    #[test]
    fn the_clock_hyper_reads_is_the_last_tick() {
        let sweeper = Sweeper::new();
        let timer = sweeper.connection();
        assert_eq!(timer.now(), sweeper.base);
        sweeper.tick(2_000);
        assert_eq!(timer.now(), after(&sweeper, 2_000));
        // `sleep` counts from that clock.
        let mut s = timer.sleep(Duration::from_millis(500));
        let count = Arc::new(Count::default());
        assert!(poll(&mut s, &count).is_pending());
        sweeper.tick(2_500);
        assert!(poll(&mut s, &count).is_ready());
        // A tick never moves the clock back.
        sweeper.tick(1_000);
        assert_eq!(timer.now(), after(&sweeper, 2_500));
    }

    #[test]
    fn a_dropped_sleep_is_disarmed_and_never_woken() {
        let sweeper = Sweeper::new();
        let timer = sweeper.connection();
        let mut s = timer.sleep_until(after(&sweeper, 1_000));
        let count = Arc::new(Count::default());
        assert!(poll(&mut s, &count).is_pending());
        drop(s);
        sweeper.tick(10_000);
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_older_sleep_dropped_late_leaves_the_newer_armed() {
        let sweeper = Sweeper::new();
        let timer = sweeper.connection();
        let (old_count, new_count) = (Arc::new(Count::default()), Arc::new(Count::default()));
        let mut old = timer.sleep_until(after(&sweeper, 1_000));
        assert!(poll(&mut old, &old_count).is_pending());
        let mut new = timer.sleep_until(after(&sweeper, 3_000));
        assert!(poll(&mut new, &new_count).is_pending());
        drop(old);
        sweeper.tick(3_000);
        assert_eq!(new_count.0.load(Ordering::SeqCst), 1);
        assert_eq!(old_count.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_sleep_polled_again_keeps_one_arming_with_the_latest_waker() {
        let sweeper = Sweeper::new();
        let timer = sweeper.connection();
        let mut s = timer.sleep_until(after(&sweeper, 1_000));
        let (first, second) = (Arc::new(Count::default()), Arc::new(Count::default()));
        assert!(poll(&mut s, &first).is_pending());
        assert!(poll(&mut s, &second).is_pending());
        sweeper.tick(1_000);
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn closed_connections_are_forgotten_on_the_next_tick() {
        let sweeper = Sweeper::new();
        let open = sweeper.connection();
        let closed = sweeper.connection();
        let mut s = closed.sleep_until(after(&sweeper, 1_000));
        assert!(poll(&mut s, &Arc::new(Count::default())).is_pending());
        drop((s, closed));
        assert_eq!(sweeper.listed(), 2);
        sweeper.tick(500);
        assert_eq!(sweeper.listed(), 1);
        drop(open);
        sweeper.tick(600);
        assert_eq!(sweeper.listed(), 0);
    }
}
