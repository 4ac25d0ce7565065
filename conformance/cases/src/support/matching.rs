//! Which of several topics reach a subscriber: [`expect_matches`], for cases about topic
//! matching (exact comparison, wildcards, U+FEFF kept in Topic Names and Topic Filters).

use mqttspec_codec::Packet;

use super::{control_after_quiet, QUIET};
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{Client, Failure};

/// Publishes each of `topics` (QoS 0, payload = the topic) in order; `sub` must receive
/// exactly those marked as matching (in any order, each once: checks), then nothing during
/// a quiet period (a check), then the control message published on `control`, a topic its
/// subscription matches.
pub(crate) async fn expect_matches(
    publisher: &mut Client,
    sub: &mut Client,
    topics: &[(&str, bool)],
    control: &str,
) -> Result<(), Failure> {
    for (topic, _) in topics {
        publisher.publish(*topic).payload(topic.as_bytes()).await?;
    }
    let mut wanted: Vec<&str> = topics.iter().filter(|(_, m)| *m).map(|(t, _)| *t).collect();
    let unwanted: Vec<&str> = topics
        .iter()
        .filter(|(_, m)| !*m)
        .map(|(t, _)| *t)
        .collect();
    while !wanted.is_empty() {
        let expected = format!("a PUBLISH on each of {wanted:?}, on no other topic");
        let p = sub.expect_publish().await.map_err(|mut f| {
            f.0.expected = Some(expected.clone());
            f
        })?;
        match wanted
            .iter()
            .position(|w| p.topic.as_str() == *w && p.payload.as_ref() == w.as_bytes())
        {
            Some(i) => {
                wanted.remove(i);
            }
            None => return Err(sub.unmet(&expected, Received::Packet(Packet::Publish(p)))),
        }
    }
    sub.expect_no_publish().for_(QUIET).await?;
    control_after_quiet(
        publisher,
        sub,
        control,
        0,
        "control",
        &format!("no message on {unwanted:?}"),
    )
    .await
}
