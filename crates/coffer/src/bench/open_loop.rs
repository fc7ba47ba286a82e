//! Open-loop load (`--rate`): requests leave on a fixed schedule — request `i` at `i / rate` seconds — whether
//! or not earlier ones were answered, as independent viewers would send them. A closed loop slows down with
//! the server and so never sees the queue a stall builds ("coordinated omission"); here each latency counts
//! from the request's scheduled time, so a request delayed by a stall (or waiting for one of the
//! `--concurrency` connections) pays for the wait.
//!
//! A dedicated thread paces the schedule, because the runtime's timer ticks in milliseconds while requests at
//! tens of thousands per second are tens of microseconds apart; it hands each due request to the runtime as a
//! task, and a fair semaphore of `--concurrency` permits bounds the requests (and so connections) in flight.
//! The pacer naps at least [`MIN_NAP`] between hand-offs: waking for every request at such rates costs the
//! client more CPU in sleeps and cross-thread wake-ups than its requests do, CPU the server on the same machine
//! then lacks. A request thus leaves up to `MIN_NAP` (plus the kernel's timer slack) late, never early, and its
//! latency counts that; the report's send delay shows it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};

use super::{exchange, micros, BenchClient, RequestShape, Tally, Target};

/// The shortest sleep of the pacer: requests due meanwhile leave together when it wakes.
const MIN_NAP: Duration = Duration::from_micros(100);

/// Which requests a run sends, and when: request `i` at `i / rate` seconds from the start; the first
/// `warm_up` are sent but not measured, the next `measured` are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Schedule {
    rate: f64,
    warm_up: u64,
    measured: u64,
}

impl Schedule {
    /// A timed run sends one unmeasured second, then `seconds` measured (as the closed loop does); a run of
    /// exactly `requests` measures them all, without warm-up.
    pub(super) fn new(rate: f64, seconds: f64, requests: Option<u64>) -> Self {
        match requests {
            Some(n) => Self {
                rate,
                warm_up: 0,
                measured: n,
            },
            None => Self {
                rate,
                warm_up: rate.round() as u64,
                measured: ((rate * seconds).round() as u64).max(1),
            },
        }
    }

    fn total(&self) -> u64 {
        self.warm_up + self.measured
    }

    /// When request `ticket` is due, from the start of the run.
    fn offset(&self, ticket: u64) -> Duration {
        Duration::from_secs_f64(ticket as f64 / self.rate)
    }

    fn is_measured(&self, ticket: u64) -> bool {
        ticket >= self.warm_up
    }

    /// The requests after `next` that are due by `elapsed`, at most to the end of the schedule.
    fn due(&self, next: u64, elapsed: Duration) -> std::ops::Range<u64> {
        let mut end = next;
        while end < self.total() && self.offset(end) <= elapsed {
            end += 1;
        }
        next..end
    }
}

/// One answered request: its ticket, when it left (a connection free), when it was answered, and what came back.
struct Answer {
    ticket: u64,
    sent: Instant,
    at: Instant,
    outcome: Result<u64, String>,
}

/// Runs `schedule` with at most `concurrency` requests in flight. Returns the measured outcomes, and the time
/// from the first measured request's scheduled send to the last measured answer (never less than the
/// schedule's measured span), so a server that falls behind shows as an achieved rate below the schedule's.
pub(super) async fn drive(
    client: BenchClient,
    target: Arc<Target>,
    shape: Arc<RequestShape>,
    schedule: Schedule,
    concurrency: usize,
) -> anyhow::Result<(Tally, Duration)> {
    let lanes = Arc::new(Semaphore::new(concurrency));
    let (answers, mut answered) = mpsc::unbounded_channel::<Answer>();
    let runtime = tokio::runtime::Handle::current();
    let start = Instant::now();
    let pacer = std::thread::Builder::new()
        .name("bench-pacer".into())
        .spawn(move || {
            let mut next = 0;
            while next < schedule.total() {
                let wait =
                    (start + schedule.offset(next)).saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    std::thread::sleep(wait.max(MIN_NAP));
                }
                // Everything due by now, so a late wake-up sends the backlog at once rather than drifting.
                let due = schedule.due(next, start.elapsed());
                next = due.end;
                for ticket in due {
                    let (client, target, shape) = (client.clone(), target.clone(), shape.clone());
                    let (lanes, answers) = (lanes.clone(), answers.clone());
                    runtime.spawn(async move {
                        let Ok(_lane) = lanes.acquire().await else {
                            return;
                        };
                        let sent = Instant::now();
                        let outcome = exchange(&client, &target, &shape, ticket).await;
                        let _ = answers.send(Answer {
                            ticket,
                            sent,
                            at: Instant::now(),
                            outcome,
                        });
                    });
                }
            }
        })?;

    let measured_from = start + schedule.offset(schedule.warm_up);
    let mut last = measured_from + schedule.offset(schedule.measured);
    let mut tally = Tally {
        latencies: Vec::with_capacity(schedule.measured.min(1 << 24) as usize),
        ..Tally::default()
    };
    // The channel closes when the pacer has sent everything and every request task has answered.
    while let Some(a) = answered.recv().await {
        if schedule.is_measured(a.ticket) {
            let due = start + schedule.offset(a.ticket);
            tally
                .send_delays
                .push(micros(a.sent.saturating_duration_since(due)));
            tally.record(a.at.saturating_duration_since(due), a.outcome);
            last = last.max(a.at);
        }
    }
    pacer
        .join()
        .map_err(|_| anyhow::anyhow!("the pacer thread panicked"))?;
    Ok((tally, last.saturating_duration_since(measured_from)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_runs_warm_up_for_a_second() {
        let s = Schedule::new(20_000.0, 10.0, None);
        assert_eq!(
            (s.warm_up, s.measured, s.total()),
            (20_000, 200_000, 220_000)
        );
        assert!(!s.is_measured(19_999));
        assert!(s.is_measured(20_000));
        let s = Schedule::new(0.5, 0.1, None);
        assert_eq!(
            (s.warm_up, s.measured),
            (1, 1),
            "at least one measured request"
        );
    }

    #[test]
    fn counted_runs_measure_everything() {
        let s = Schedule::new(100.0, 10.0, Some(7));
        assert_eq!((s.warm_up, s.measured, s.total()), (0, 7, 7));
        assert!(s.is_measured(0));
    }

    #[test]
    fn requests_are_evenly_spaced() {
        let s = Schedule::new(20_000.0, 1.0, None);
        assert_eq!(s.offset(0), Duration::ZERO);
        assert_eq!(s.offset(1), Duration::from_micros(50));
        assert_eq!(s.offset(20_000), Duration::from_secs(1));
        let s = Schedule::new(3.0, 1.0, None);
        assert_eq!(s.offset(3), Duration::from_secs(1));
        assert!(s.offset(1) < s.offset(2));
    }

    #[test]
    fn due_requests_catch_up_and_stop_at_the_end() {
        let s = Schedule::new(1000.0, 1.0, Some(10));
        assert_eq!(s.due(0, Duration::ZERO), 0..1, "the first is due at once");
        assert_eq!(s.due(1, Duration::from_micros(999)), 1..1, "not yet");
        assert_eq!(s.due(1, Duration::from_millis(1)), 1..2);
        assert_eq!(
            s.due(2, Duration::from_micros(4500)),
            2..5,
            "a late wake-up sends the backlog"
        );
        assert_eq!(
            s.due(5, Duration::from_secs(60)),
            5..10,
            "never past the schedule"
        );
        assert_eq!(s.due(10, Duration::from_secs(60)), 10..10);
    }
}
