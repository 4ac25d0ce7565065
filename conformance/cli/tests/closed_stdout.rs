//! `mqttspec` with its standard output a pipe nobody reads (`mqttspec list | head -1`): it
//! must neither panic nor fail; output stops and the command finishes.

use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    for args in [&["list"][..], &["trace"], &["trace", "--depth"]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        // The reading end is closed before the command writes anything.
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_mqttspec"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run mqttspec");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
    }
}
