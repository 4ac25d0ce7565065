//! Where the subscribers run: on a runtime of their own, apart from the publishers.
//!
//! The subscribers time each message as they read it. On the publishers' runtime their
//! reads wait behind whatever publisher work is queued at that moment, and that is most
//! often the broker's acknowledgements, which a prompt broker sends right after the message
//! it forwards: the measured latency then includes the load generator's own scheduling, and
//! more of it the sooner the broker acknowledges. Real subscribers are other processes,
//! usually on other machines. So by default the subscribers get their own multi-threaded
//! runtime (one worker per subscriber, at most one per core), whose threads the kernel wakes
//! when their sockets have data; `--shared-runtime` puts them back on the publishers'
//! runtime (how `mqttspec bench` measured before this option existed).

use tokio::runtime::{Builder, Handle, Runtime};

/// The subscribers' runtime, if they have one of their own.
#[derive(Debug)]
pub(crate) struct SubscriberRuntime {
    runtime: Option<Runtime>,
}

impl SubscriberRuntime {
    /// A runtime of their own for `subscribers` subscribers, or none when `shared`.
    pub(crate) fn new(subscribers: u32, shared: bool) -> std::io::Result<SubscriberRuntime> {
        if shared || subscribers == 0 {
            return Ok(SubscriberRuntime { runtime: None });
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = usize::try_from(subscribers)
            .unwrap_or(usize::MAX)
            .min(cores);
        let runtime = Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("bench-subscriber")
            .enable_all()
            .build()?;
        Ok(SubscriberRuntime {
            runtime: Some(runtime),
        })
    }

    /// Where to spawn subscriber tasks: their own runtime, or the caller's.
    pub(crate) fn handle(&self) -> Handle {
        match &self.runtime {
            Some(rt) => rt.handle().clone(),
            None => Handle::current(),
        }
    }
}

impl Drop for SubscriberRuntime {
    fn drop(&mut self) {
        // Dropped inside the publishers' runtime, where a blocking shutdown is not allowed;
        // after a normal run every subscriber task has ended, after an error any left are
        // cancelled without waiting for them.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
