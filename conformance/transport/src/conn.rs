//! [`Conn`]: the byte stream of a connection over any transport.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::ws::WsBytes;

/// TCP or TLS over TCP: what a WebSocket runs on.
#[derive(Debug)]
pub enum Base {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Base {
    fn tcp(&self) -> &TcpStream {
        match self {
            Base::Tcp(s) => s,
            Base::Tls(s) => s.get_ref().0,
        }
    }
}

/// One connection to the broker, over any transport: a byte stream.
#[derive(Debug)]
pub enum Conn {
    /// TCP or TLS.
    Stream(Base),
    /// WebSocket (over TCP or TLS).
    Ws(Box<WsBytes>),
}

impl Conn {
    /// The TCP connection beneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Stream(b) => b.tcp(),
            Conn::Ws(w) => w.base().tcp(),
        }
    }

    /// The WebSocket layer, on WebSocket transports.
    pub fn websocket(&mut self) -> Option<&mut WsBytes> {
        match self {
            Conn::Ws(w) => Some(w),
            Conn::Stream(_) => None,
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
        match self.get_mut() {
            Conn::Stream(Base::Tcp(s)) => Pin::new(s).poll_read(cx, buf),
            Conn::Stream(Base::Tls(s)) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Ws(w) => Pin::new(w.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Stream(Base::Tcp(s)) => Pin::new(s).poll_write(cx, buf),
            Conn::Stream(Base::Tls(s)) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Ws(w) => Pin::new(w.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Stream(Base::Tcp(s)) => Pin::new(s).poll_flush(cx),
            Conn::Stream(Base::Tls(s)) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Ws(w) => Pin::new(w.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Stream(Base::Tcp(s)) => Pin::new(s).poll_shutdown(cx),
            Conn::Stream(Base::Tls(s)) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Ws(w) => Pin::new(w.as_mut()).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for Base {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Base::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Base::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Base {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Base::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Base::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Base::Tcp(s) => Pin::new(s).poll_flush(cx),
            Base::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Base::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Base::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Conn {
    /// Splits the connection into a reading and a writing half that can live in different
    /// tasks. Plain TCP splits without a lock (the load generator's latency path); the other
    /// transports share the stream behind tokio's split.
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Conn::Stream(Base::Tcp(s)) => {
                let (r, w) = s.into_split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w))
            }
            other => {
                let (r, w) = tokio::io::split(other);
                (ReadHalf::Shared(r), WriteHalf::Shared(w))
            }
        }
    }
}

/// The reading half of a [`Conn`].
#[derive(Debug)]
pub enum ReadHalf {
    /// Of plain TCP.
    Tcp(tokio::net::tcp::OwnedReadHalf),
    /// Of any other transport.
    Shared(tokio::io::ReadHalf<Conn>),
}

/// The writing half of a [`Conn`].
#[derive(Debug)]
pub enum WriteHalf {
    /// Of plain TCP.
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    /// Of any other transport.
    Shared(tokio::io::WriteHalf<Conn>),
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            ReadHalf::Shared(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            WriteHalf::Shared(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_flush(cx),
            WriteHalf::Shared(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            WriteHalf::Shared(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
