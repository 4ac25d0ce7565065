//! Session State kept by the server for one Client Identifier (section 4.1 of the 5.0 spec):
//! the messages queued for the client, the QoS 1/2 messages sent to it and not yet
//! acknowledged, the QoS 2 Packet Identifiers received from it and not yet released, the Will
//! Message, and when the session expires. Subscriptions live in the shared
//! [`SubscriptionTree`](super::subscriptions::SubscriptionTree), keyed by the same id.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use mqttspec_codec::PacketId;

use super::memory::Charge;
use super::message::Delivery;
use super::will::Will;
use super::ConnectionId;

/// Where an outgoing QoS 1/2 message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutgoingState {
    /// QoS 1 PUBLISH sent, PUBACK awaited.
    Qos1Sent,
    /// QoS 2 PUBLISH sent, PUBREC awaited.
    Qos2Sent,
    /// PUBREL sent, PUBCOMP awaited (the PUBLISH is never sent again, MQTT-4.3.3-6).
    Released,
}

/// One unacknowledged outgoing QoS 1/2 message.
#[derive(Debug, Clone)]
pub(crate) struct InflightEntry {
    /// Its Packet Identifier.
    pub packet_id: PacketId,
    /// The delivery (kept for retransmission).
    pub delivery: Delivery,
    /// Its state.
    pub state: OutgoingState,
    /// Whether its PUBLISH was sent on the current connection (so it counts against the
    /// client's Receive Maximum). Cleared when the connection ends; a PUBLISH not sent on
    /// the current connection is retransmitted (with DUP 1) when the session resumes.
    /// Change it only through [`Inflight::mark_sent_here`] and
    /// [`Inflight::mark_none_sent_here`], which keep the count behind [`Inflight::counted`].
    pub sent_here: bool,
}

/// The outgoing QoS 1/2 messages of a session in the order they were first sent, with a
/// Packet Identifier index.
#[derive(Debug, Default)]
pub(crate) struct Inflight {
    entries: BTreeMap<u64, InflightEntry>,
    by_id: HashMap<PacketId, u64>,
    next_seq: u64,
    /// How many entries have `sent_here` false, so that [`Inflight::counted`] and the check
    /// for retransmissions do not walk every entry for each message sent.
    not_sent_here: usize,
}

impl Inflight {
    /// Whether this Packet Identifier is in use.
    pub fn contains(&self, id: PacketId) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Adds a message (its id must be free).
    pub fn push(&mut self, entry: InflightEntry) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if !entry.sent_here {
            self.not_sent_here += 1;
        }
        self.by_id.insert(entry.packet_id, seq);
        self.entries.insert(seq, entry);
    }

    /// The entry with this Packet Identifier.
    pub fn get_mut(&mut self, id: PacketId) -> Option<&mut InflightEntry> {
        let seq = self.by_id.get(&id)?;
        self.entries.get_mut(seq)
    }

    /// Removes the entry with this Packet Identifier.
    pub fn remove(&mut self, id: PacketId) -> Option<InflightEntry> {
        let seq = self.by_id.remove(&id)?;
        let entry = self.entries.remove(&seq)?;
        if !entry.sent_here {
            self.not_sent_here -= 1;
        }
        Some(entry)
    }

    /// Records that the PUBLISH with this Packet Identifier was sent on the current
    /// connection.
    pub fn mark_sent_here(&mut self, id: PacketId) {
        let Some(seq) = self.by_id.get(&id) else {
            return;
        };
        if let Some(e) = self.entries.get_mut(seq) {
            if !e.sent_here {
                e.sent_here = true;
                self.not_sent_here -= 1;
            }
        }
    }

    /// Records that the connection ended: nothing in flight was sent on the next one yet.
    pub fn mark_none_sent_here(&mut self) {
        for e in self.entries.values_mut() {
            e.sent_here = false;
        }
        self.not_sent_here = self.entries.len();
    }

    /// Whether some entry was not sent on the current connection (a retransmission is due
    /// unless it was released).
    pub fn any_not_sent_here(&self) -> bool {
        self.not_sent_here > 0
    }

    /// All entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &InflightEntry> {
        self.entries.values()
    }

    /// How many PUBLISH packets sent on this connection await their final acknowledgement.
    pub fn counted(&self) -> usize {
        debug_assert_eq!(
            self.not_sent_here,
            self.entries.values().filter(|e| !e.sent_here).count(),
            "sent_here changed without mark_sent_here / mark_none_sent_here"
        );
        self.entries.len() - self.not_sent_here
    }
}

/// The server's Session State for one client.
#[derive(Debug)]
pub(crate) struct Session {
    /// The connection it is attached to, if the client is connected.
    pub connection: Option<ConnectionId>,
    /// Session Expiry Interval in seconds (`u32::MAX`: never).
    pub expiry_interval: u32,
    /// The Will Message of the current (or, when disconnected, the last) connection. While
    /// the session is disconnected a Will here is waiting for its delay or the session end.
    pub will: Option<Will>,
    /// Messages waiting to be sent, oldest first.
    pub queue: VecDeque<Delivery>,
    /// QoS 1/2 messages sent and not yet completely acknowledged.
    pub inflight: Inflight,
    /// QoS 2 Packet Identifiers received from the client whose PUBREL has not arrived.
    pub inbound_qos2: BTreeSet<PacketId>,
    /// When the incoming QoS 2 messages of `inbound_qos2` expire (core time), kept only
    /// under the fault `expire-received-qos2`, which forgets them once they have.
    pub inbound_qos2_expiry: BTreeMap<PacketId, std::time::Duration>,
    /// The last Packet Identifier handed out.
    last_packet_id: u16,
    /// When the client last disconnected (core time), for choosing which session to discard
    /// at [`Config::max_sessions`](crate::Config::max_sessions) or for memory.
    pub offline_since: std::time::Duration,
    /// Its own bytes (not its messages, Will or subscriptions), charged against the memory
    /// budget for as long as the session exists (never read: it is held for its `Drop`).
    #[allow(dead_code)]
    pub charge: Charge,
}

impl Session {
    /// A new, empty session, holding `charge`.
    pub fn new(expiry_interval: u32, charge: Charge) -> Self {
        Session {
            connection: None,
            expiry_interval,
            will: None,
            queue: VecDeque::new(),
            inflight: Inflight::default(),
            inbound_qos2: BTreeSet::new(),
            inbound_qos2_expiry: BTreeMap::new(),
            last_packet_id: 0,
            offline_since: std::time::Duration::ZERO,
            charge,
        }
    }

    /// A Packet Identifier not used by any message in flight (MQTT-2.2.1-4), or `None` if all
    /// 65,535 are in use.
    pub fn allocate_packet_id(&mut self) -> Option<PacketId> {
        for _ in 0..u16::MAX {
            self.last_packet_id = self.last_packet_id.wrapping_add(1);
            if let Some(id) = PacketId::new(self.last_packet_id) {
                if !self.inflight.contains(id) {
                    return Some(id);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use mqttspec_codec::{QoS, TopicName};

    use super::*;
    use crate::memory::Charge;
    use crate::message::Message;

    fn entry(id: PacketId) -> InflightEntry {
        let message = Arc::new(Message {
            topic: TopicName::new("t").unwrap(),
            payload: Bytes::new(),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
            properties: Default::default(),
            will: false,
            delayed_will: false,
            publisher: None,
            expires_at: None,
            charge: Default::default(),
        });
        InflightEntry {
            packet_id: id,
            delivery: Delivery {
                message,
                qos: QoS::AtLeastOnce,
                retain: false,
                subscription_identifiers: Vec::new(),
                charge: Default::default(),
                tamper: Default::default(),
                keep_dup: false,
                oversize: false,
                beyond_quota: false,
                alias: false,
                stale_alias: false,
                reverse_user_properties: false,
                keep_expiry: false,
            },
            state: OutgoingState::Qos1Sent,
            sent_here: true,
        }
    }

    #[test]
    fn packet_ids_in_flight_are_never_handed_out_again() {
        let mut s = Session::new(0, Charge::default());
        let first = s.allocate_packet_id().unwrap();
        assert_eq!(first.get(), 1);
        s.inflight.push(entry(first));
        s.last_packet_id = u16::MAX;
        // Wraps past 65535 and skips 0 and the identifier still in flight.
        assert_eq!(s.allocate_packet_id().unwrap().get(), 2);
    }

    #[test]
    fn counted_follows_what_was_sent_on_the_current_connection() {
        let mut f = Inflight::default();
        for id in 1..=3 {
            f.push(entry(PacketId::new(id).unwrap()));
        }
        assert_eq!((f.counted(), f.any_not_sent_here()), (3, false));
        f.mark_none_sent_here();
        assert_eq!((f.counted(), f.any_not_sent_here()), (0, true));
        f.mark_sent_here(PacketId::new(2).unwrap());
        f.mark_sent_here(PacketId::new(2).unwrap());
        assert_eq!(f.counted(), 1);
        f.remove(PacketId::new(1).unwrap());
        f.remove(PacketId::new(2).unwrap());
        assert_eq!((f.counted(), f.any_not_sent_here()), (0, true));
        f.mark_sent_here(PacketId::new(3).unwrap());
        assert_eq!((f.counted(), f.any_not_sent_here()), (1, false));
    }

    #[test]
    fn no_packet_id_is_left_when_all_are_in_flight() {
        let mut s = Session::new(0, Charge::default());
        for id in 1..=u16::MAX {
            s.inflight.push(entry(PacketId::new(id).unwrap()));
        }
        assert_eq!(s.allocate_packet_id(), None);
    }
}
