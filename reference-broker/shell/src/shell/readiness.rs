//! How the broker task waits on every socket at once without a task per socket.
//!
//! Each connection has two [`Waker`]s of its own (read and write, see [`socket_waker`]).
//! The broker task hands them to tokio (`TcpStream::poll_read_ready` /
//! `poll_write_ready`) when a socket would block; when tokio's I/O driver finds the socket
//! ready it wakes that waker, which records the connection in the shared [`Readiness`] set
//! and wakes the broker task. The broker task then takes the whole set at once. Nothing but
//! the connection holds its socket: when a connection is dropped its socket closes, and a
//! late wake-up for it is ignored.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use crate::core::ConnectionId;

/// Which readiness a socket reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    /// It has input (or end of stream, or an error).
    Read,
    /// It can take output.
    Write,
}

/// The sockets that became ready since the broker task last looked.
#[derive(Debug, Default)]
pub(super) struct Readiness {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    ready: Vec<(ConnectionId, Direction)>,
    /// The broker task, while it waits.
    task: Option<Waker>,
}

impl Readiness {
    /// Ready once some socket is; registers the broker task to be woken otherwise.
    pub(super) fn poll_any(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.ready.is_empty() {
            return Poll::Ready(());
        }
        match &state.task {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.task = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Moves the sockets reported ready into `out`.
    pub(super) fn take(&self, out: &mut Vec<(ConnectionId, Direction)>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        out.append(&mut state.ready);
    }

    fn report(&self, id: ConnectionId, direction: Direction) {
        let task = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.ready.push((id, direction));
            state.task.take()
        };
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// The waker of one socket and direction.
#[derive(Debug)]
struct SocketWaker {
    id: ConnectionId,
    direction: Direction,
    readiness: Arc<Readiness>,
}

impl Wake for SocketWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.readiness.report(self.id, self.direction);
    }
}

/// A waker that reports `id` ready in `direction` to `readiness`.
pub(super) fn socket_waker(
    readiness: &Arc<Readiness>,
    id: ConnectionId,
    direction: Direction,
) -> Waker {
    Waker::from(Arc::new(SocketWaker {
        id,
        direction,
        readiness: Arc::clone(readiness),
    }))
}
