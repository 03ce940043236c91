//! [`TopicPartition`]: a topic and a partition index, Java's `TopicPartition`.

use std::fmt;
use std::sync::Arc;

/// A topic and a partition index. Cloning is cheap (the topic name is
/// shared). Ordered by topic, then partition; displayed as `topic-partition`
/// as in Java.
///
/// ```
/// use purekafka::TopicPartition;
///
/// let tp = TopicPartition::new("events", 3);
/// assert_eq!(tp.to_string(), "events-3");
/// // Tuples convert, so `consumer.assign([("events", 3)])` reads naturally.
/// assert_eq!(TopicPartition::from(("events", 3)), tp);
/// // Ordered by topic, then partition.
/// assert!(TopicPartition::new("a", 9) < TopicPartition::new("b", 0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic's name.
    pub topic: Arc<str>,
    /// The partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic and a partition index.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl From<(&str, i32)> for TopicPartition {
    fn from((topic, partition): (&str, i32)) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }
}

impl From<&(&str, i32)> for TopicPartition {
    fn from(&(topic, partition): &(&str, i32)) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }
}

impl From<(String, i32)> for TopicPartition {
    fn from((topic, partition): (String, i32)) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }
}

impl From<(&String, i32)> for TopicPartition {
    fn from((topic, partition): (&String, i32)) -> TopicPartition {
        TopicPartition::new(topic.as_str(), partition)
    }
}

impl From<(Arc<str>, i32)> for TopicPartition {
    fn from((topic, partition): (Arc<str>, i32)) -> TopicPartition {
        TopicPartition { topic, partition }
    }
}

impl From<&TopicPartition> for TopicPartition {
    fn from(tp: &TopicPartition) -> TopicPartition {
        tp.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::TopicPartition;
    use std::collections::BTreeSet;

    #[test]
    fn display_is_javas() {
        assert_eq!(TopicPartition::new("my-topic", 0).to_string(), "my-topic-0");
        assert_eq!(TopicPartition::new("t", -1).to_string(), "t--1");
    }

    #[test]
    fn ordered_by_topic_then_partition() {
        let set: BTreeSet<TopicPartition> = [("b", 0), ("a", 10), ("a", 2), ("b", -1)]
            .into_iter()
            .map(TopicPartition::from)
            .collect();
        let got: Vec<String> = set.iter().map(ToString::to_string).collect();
        assert_eq!(got, ["a-2", "a-10", "b--1", "b-0"]);
    }

    #[test]
    fn conversions_agree() {
        let tp = TopicPartition::new("t", 1);
        assert_eq!(TopicPartition::from(("t", 1)), tp);
        assert_eq!(TopicPartition::from(&("t", 1)), tp);
        assert_eq!(TopicPartition::from(("t".to_string(), 1)), tp);
        assert_eq!(TopicPartition::from((&"t".to_string(), 1)), tp);
        assert_eq!(
            TopicPartition::from((std::sync::Arc::<str>::from("t"), 1)),
            tp
        );
        assert_eq!(TopicPartition::from(&tp), tp);
        assert_ne!(TopicPartition::new("t", 2), tp);
        assert_eq!(tp.topic(), "t");
    }
}
