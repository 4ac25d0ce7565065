//! The socket the broker task owns for a connection: the client's TCP socket itself (plain
//! TCP listeners), or the broker's end of a Unix socket pair whose other end a relay task
//! (`relay`) feeds with what it decrypted or unwrapped from TLS and WebSocket.
//!
//! Both are non-blocking sockets with readiness in tokio's I/O driver, so the broker task
//! treats them alike: [`RawSocket`] is the handful of calls it makes, and the read and write
//! code is generic over it, so the plain TCP path is compiled for `TcpStream` exactly as
//! before (one `match` on the kind of socket is all that was added).

use std::io::{self, IoSlice};
use std::task::{Context, Poll};

use bytes::BufMut;
use tokio::io::Interest;
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

/// A connection's socket.
#[derive(Debug)]
pub(crate) enum Socket {
    /// A client's TCP connection.
    Tcp(TcpStream),
    /// The broker's end of the pipe to a TLS or WebSocket relay task.
    #[cfg(unix)]
    Pipe(UnixStream),
}

impl Socket {
    /// Closes the sending direction (end of stream to the peer).
    pub(super) fn shut_down(self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.into_std()?.shutdown(std::net::Shutdown::Write),
            #[cfg(unix)]
            Socket::Pipe(s) => s.into_std()?.shutdown(std::net::Shutdown::Write),
        }
    }
}

/// The non-blocking calls the broker task makes on a socket (those of tokio's `TcpStream`
/// and `UnixStream`).
pub(super) trait RawSocket {
    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
    fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize>;
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

macro_rules! raw_socket {
    ($t:ty) => {
        impl RawSocket for $t {
            #[inline]
            fn try_io<R>(
                &self,
                interest: Interest,
                f: impl FnOnce() -> io::Result<R>,
            ) -> io::Result<R> {
                <$t>::try_io(self, interest, f)
            }
            #[inline]
            fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
                <$t>::try_read_buf(self, buf)
            }
            #[inline]
            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                <$t>::try_write(self, buf)
            }
            #[inline]
            fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                <$t>::try_write_vectored(self, bufs)
            }
            #[inline]
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$t>::poll_read_ready(self, cx)
            }
            #[inline]
            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$t>::poll_write_ready(self, cx)
            }
        }
    };
}

raw_socket!(TcpStream);
#[cfg(unix)]
raw_socket!(UnixStream);
