//! One module per subcommand: its clap arguments, what it does, and its own error type.
//! [`crate::cli`] dispatches to them and alone maps their errors to exit statuses.

pub mod bench;
pub mod broker;
pub mod client;
pub mod compare;
pub mod decode;
pub mod endpoint;
pub mod fuzz;
pub mod list;
pub mod login;
pub mod probe;
pub mod replay;
pub mod run;
pub mod trace;
