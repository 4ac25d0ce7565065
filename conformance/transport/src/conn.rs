//! [`Conn`]: the byte stream of a connection over any transport.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

use super::ws::WsBytes;

/// TCP or TLS over TCP: what a WebSocket runs on.
pub type Base = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// The TCP connection beneath `base`.
pub(crate) fn base_tcp(base: &Base) -> &TcpStream {
    match base {
        Either::Left(s) => s,
        Either::Right(s) => s.get_ref().0,
    }
}

/// One connection to the broker, over any transport: a byte stream (TCP or TLS, or a
/// WebSocket over either). The reads and writes go to whichever it is (`Either` does the
/// dispatch).
#[derive(Debug)]
pub struct Conn(Either<Base, Box<WsBytes>>);

impl Conn {
    /// A connection over TCP or TLS.
    pub fn stream(base: Base) -> Conn {
        Conn(Either::Left(base))
    }

    /// A connection over a WebSocket.
    pub fn ws(ws: WsBytes) -> Conn {
        Conn(Either::Right(Box::new(ws)))
    }

    /// The TCP connection beneath.
    pub fn tcp(&self) -> &TcpStream {
        match &self.0 {
            Either::Left(b) => base_tcp(b),
            Either::Right(w) => base_tcp(w.base()),
        }
    }

    /// The WebSocket layer, on WebSocket transports.
    pub fn websocket(&mut self) -> Option<&mut WsBytes> {
        match &mut self.0 {
            Either::Right(w) => Some(w),
            Either::Left(_) => None,
        }
    }

    /// Drops the connection with a TCP reset where the platform allows (no TLS close_notify,
    /// no WebSocket close frame): what a crashed client looks like.
    pub fn abort(self) {
        #[allow(deprecated)]
        let _ = self.tcp().set_linger(Some(Duration::ZERO));
        drop(self);
    }

    /// Reads what is available now without waiting: `WouldBlock` when nothing is.
    pub fn try_read_buf(&mut self, buf: &mut bytes::BytesMut) -> io::Result<usize> {
        let mut tmp = [0u8; 4096];
        let mut read = ReadBuf::new(&mut tmp);
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut *self).poll_read(&mut cx, &mut read) {
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Ready(Ok(())) => {
                let filled = read.filled();
                buf.extend_from_slice(filled);
                Ok(filled.len())
            }
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl Conn {
    /// Splits the connection into a reading and a writing half that can live in different
    /// tasks. Plain TCP splits without a lock (the load generator's latency path); the other
    /// transports share the stream behind tokio's split.
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self.0 {
            Either::Left(Either::Left(s)) => {
                let (r, w) = s.into_split();
                (Either::Left(r), Either::Left(w))
            }
            other => {
                let (r, w) = tokio::io::split(Conn(other));
                (Either::Right(r), Either::Right(w))
            }
        }
    }
}

/// The reading half of a [`Conn`]: of plain TCP, or of any other transport.
pub type ReadHalf = Either<tokio::net::tcp::OwnedReadHalf, tokio::io::ReadHalf<Conn>>;

/// The writing half of a [`Conn`]: of plain TCP, or of any other transport.
pub type WriteHalf = Either<tokio::net::tcp::OwnedWriteHalf, tokio::io::WriteHalf<Conn>>;
