//! Printing to standard output without panicking when the reader has gone.
//!
//! `println!` panics when stdout is a closed pipe (`mqttspec trace | head`). The commands
//! print through [`out!`](crate::out) and [`outln!`](crate::outln) instead: the first write
//! that finds the pipe closed stops all further output on stdout, and the command carries
//! on with its real work (reports, exit status). Any other write error is reported once on
//! stderr, and output stops the same way.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout could not be written.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `args` to stdout, unless stdout has failed before.
pub fn write(args: fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = io::stdout().lock();
    let result = stdout.write_fmt(args).and_then(|()| stdout.flush());
    if let Err(e) = result {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("mqttspec: cannot write to standard output: {e}");
        }
    }
}

/// Like `print!`, but stops quietly when stdout is a closed pipe (see [`console`](crate::console)).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::console::write(format_args!($($arg)*))
    };
}

/// Like `println!`, but stops quietly when stdout is a closed pipe (see [`console`](crate::console)).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::console::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::console::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_macros_format_like_print() {
        // Only that they compile and format; where stdout goes is the test runner's.
        crate::out!("{}-{}", 1, 2);
        crate::outln!();
        crate::outln!("{:>3}", 7);
    }
}
