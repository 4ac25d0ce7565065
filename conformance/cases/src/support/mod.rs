//! Helpers for writing cases. Case modules hold cases only, plus private helpers that one
//! module alone uses; anything a second module needs lives here, one concept per file, and
//! is re-exported from this module (`use super::support::{..}`).
//!
//! | file | what it holds |
//! |---|---|
//! | [`waits`] | [`QUIET`] (the quiet period of an absence check), [`WILL_QUIET`] (the longer one for Wills), [`SECOND_AND_A_BIT`] |
//! | [`ids`] | [`packet_id`], [`topic_name`], [`topic_filter`], [`text`]: values a case builds (its own mistake is ERROR) |
//! | [`statements`] | [`of_run!`]: the statement of the run's protocol that a failure is about, from its MQTT 5.0 statement and the pairing table ([`statement`] where the table has no single counterpart) |
//! | [`granted`] | [`granted`], [`granted_one`]: the QoS a SUBACK granted; [`subscribe_granted`] |
//! | [`properties`] | [`receive_maximum`]: property blocks several areas send |
//! | [`raw`] | packets built by hand: [`RawConnect`], [`will_fields`], [`raw_publish`], [`publish_packet`], [`raw_subscribe`], [`raw_unsubscribe`], and [`send_connect`] (a CONNECT sent without waiting for the answer) |
//! | [`twin`] | [`connect_twin`]: the well-formed twin of a refused CONNECT |
//! | [`control`] | [`control`], [`control_after_quiet`], [`expect_next`]: positive controls of absences; [`setting_up`] |
//! | [`close`] | the broker ending a connection: [`expect_connection_closed`] (with [`closing_reply`], [`is_preferred_close`], [`judge_close`]) after a malformed packet or protocol error; [`expect_server_end`] / [`server_end`] and [`Ending`] for the broker's own DISCONNECT |
//! | [`refusal`] | the broker refusing a packet: [`expect_connect_refused`], [`expect_refused`] / [`Refused`] / [`refusal_verdict`] (SUBSCRIBE, PUBLISH), [`is_refusal`] |
//! | [`session`] | [`persistent`] clients, [`resume`], [`end_session`], [`leave`], [`expect_taken_over`], [`session_present`], and the control of "no session kept": [`expect_no_session`] with [`keep_subscribed`] / [`resume_kept`] (or both ends at once with [`nothing_unlike_the_control`]) or [`kept_session_control`] |
//! | [`receive`] | [`receive`], [`receive_setup`], [`gather`], [`publishes_within`]; [`payloads`], [`count_payloads`], [`list_payloads`], [`describe`] for Expected / Actual |
//! | [`publish`] | [`numbered_payloads`], [`publish_all`] |
//! | [`retained`] | [`publish_retained`], [`clearing_retained`] (removes a case's retained messages whatever its verdict) |
//! | [`will`] | [`watcher`], [`no_will`] (with the control Will [`CONTROL_WILL`]), [`lost`] |
//! | [`keep_alive`] | [`close_within`], [`keep_alive_in_force`], [`TIMED_OUT`] |
//! | [`matching`] | [`expect_matches`]: which of several topics reach a subscriber, with the quiet period and control |
//! | [`paths`] | [`on_path`]: a failure labelled with the delivery path it happened on |
//! | [`positions`] | [`At`], [`POSITIONS`]: the start, middle and end of a string field |
//!
//! ## How a case earns its verdict
//!
//! Every interaction is a step with a role (see [`mqttspec_harness::scenario`]): setup steps are
//! preconditions (INCONCLUSIVE when they fail), expectations are checks (FAIL). Two more
//! roles make a verdict trustworthy:
//!
//! - **Twins.** A PASS that rests on the broker refusing or closing means something only if
//!   the same broker accepts the well-formed twin: the same client setup with the offending
//!   field corrected, sent first in the same case. For a CONNECT, [`connect_twin`]; for a
//!   packet on an accepted connection, the corrected packet with `.as_twin()`
//!   (`c.publish(..).qos(1).as_twin()`, `c.subscribe(..).as_twin()`, `c.alive().as_twin()`).
//! - **Controls.** A PASS that rests on something not arriving means something only if a
//!   message that must arrive on the same subscriber and path does arrive, after the quiet
//!   period: [`control`], [`control_after_quiet`], `sub.expect_publish()...as_control()`, the
//!   control Will of [`no_will`], the kept session of [`resume_kept`].
//!
//! The runner turns a PASS, NON-STRICT or INFORMATIONAL without them into ERROR (a case bug),
//! and a twin or control that fails makes the case INCONCLUSIVE, so a listener that closes
//! every connection or never answers passes nothing.
//!
//! ## Adding a helper
//!
//! Write it next to the case while only that module uses it. When a second module needs it,
//! move it into the file here whose concept it belongs to (or a new file for a new concept),
//! re-export it below, and look first for a helper that already does nearly the same: there
//! is one implementation of each thing.

mod close;
mod control;
mod granted;
mod ids;
mod keep_alive;
mod matching;
mod paths;
mod positions;
mod properties;
mod publish;
mod raw;
mod receive;
mod refusal;
mod retained;
mod session;
mod statements;
mod twin;
mod waits;
mod will;

pub(crate) use close::{
    closing_reply, expect_connection_closed, expect_server_end, is_preferred_close, judge_close,
    server_end, Ending,
};
pub(crate) use control::{control, control_after_quiet, expect_next, setting_up};
pub(crate) use granted::{granted, granted_one, subscribe_granted};
pub(crate) use ids::{packet_id, text, topic_filter, topic_name};
pub(crate) use keep_alive::{close_within, keep_alive_in_force, TIMED_OUT};
pub(crate) use matching::expect_matches;
pub(crate) use paths::{on_path, Way};
pub(crate) use positions::{At, POSITIONS};
pub(crate) use properties::receive_maximum;
pub(crate) use publish::{numbered_payloads, publish_all};
pub(crate) use raw::{
    publish_packet, raw_publish, raw_subscribe, raw_unsubscribe, send_connect, will_fields,
    RawConnect,
};
pub(crate) use receive::{
    count_payloads, describe, gather, list_payloads, payloads, publishes_within, receive,
    receive_setup,
};
pub(crate) use refusal::{
    expect_connect_refused, expect_refused, is_refusal, refusal_verdict, Refused,
};
pub(crate) use retained::{
    clearing_retained, finish_retain_notes, publish_retained, retain_flag_on_subscribe,
};
pub(crate) use session::{
    end_session, expect_no_session, expect_taken_over, keep_subscribed, kept_session_control,
    leave, leave_normally, nothing_unlike_the_control, persistent, resume, resume_kept,
    session_present, PERSISTENT_EXPIRY,
};
pub(crate) use statements::{of_run, sole_counterpart, statement};
pub(crate) use twin::connect_twin;
pub(crate) use waits::{QUIET, SECOND_AND_A_BIT, WILL_QUIET};
pub(crate) use will::{lost, no_will, watcher, CONTROL_WILL};
