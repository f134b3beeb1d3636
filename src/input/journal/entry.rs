//! One line of `journalctl --output=json`: the few fields logs2eca uses,
//! taken without copying the rest.
//!
//! journalctl writes a field as a JSON string when it is printable UTF-8,
//! as an array of byte values when it is not (a binary `MESSAGE`), as an
//! array of those when the entry has the field more than once, and as
//! `null` when it is too large to show. Every field is read as bytes; of a
//! field given more than once the first value is taken, as `-o cat` shows
//! the first `MESSAGE`.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};

/// A field's value as bytes; borrowed from the line where JSON allows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Bytes<'a>(pub Cow<'a, [u8]>);

impl<'a> Bytes<'a> {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The fields of an entry that logs2eca reads (journalctl is asked for
/// these alone: `OUTPUT_FIELDS` in the parent module).
#[derive(Debug, Default, Deserialize)]
pub struct Entry<'a> {
    #[serde(rename = "__CURSOR", borrow)]
    pub cursor: Option<Cow<'a, str>>,
    #[serde(rename = "__REALTIME_TIMESTAMP", default, borrow)]
    pub realtime: Option<Bytes<'a>>,
    #[serde(rename = "_SOURCE_REALTIME_TIMESTAMP", default, borrow)]
    pub source_realtime: Option<Bytes<'a>>,
    #[serde(rename = "MESSAGE", default, borrow)]
    pub message: Option<Bytes<'a>>,
    #[serde(rename = "_SYSTEMD_UNIT", default, borrow)]
    pub unit: Option<Bytes<'a>>,
    #[serde(rename = "SYSLOG_IDENTIFIER", default, borrow)]
    pub identifier: Option<Bytes<'a>>,
    #[serde(rename = "_PID", default, borrow)]
    pub pid: Option<Bytes<'a>>,
    #[serde(rename = "PRIORITY", default, borrow)]
    pub priority: Option<Bytes<'a>>,
    #[serde(rename = "_HOSTNAME", default, borrow)]
    pub hostname: Option<Bytes<'a>>,
    #[serde(rename = "_MACHINE_ID", default, borrow)]
    pub machine_id: Option<Bytes<'a>>,
}

impl<'a> Entry<'a> {
    /// Parses one line of `journalctl --output=json`.
    pub fn parse(line: &'a [u8]) -> Result<Entry<'a>, serde_json::Error> {
        serde_json::from_slice(line)
    }

    /// The entry's own time in microseconds since the epoch: when the
    /// program logged it (`_SOURCE_REALTIME_TIMESTAMP`), else when the
    /// journal received it (`__REALTIME_TIMESTAMP`).
    pub fn time_us(&self) -> Option<u64> {
        self.source_realtime
            .as_ref()
            .and_then(micros)
            .or_else(|| self.realtime.as_ref().and_then(micros))
    }

    /// When the journal received it (what a cursor's `t=` holds).
    pub fn received_us(&self) -> Option<u64> {
        self.realtime.as_ref().and_then(micros)
    }
}

fn micros(value: &Bytes) -> Option<u64> {
    std::str::from_utf8(value.as_bytes()).ok()?.parse().ok()
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

/// A string, an array of byte values, or an array of either (the field
/// repeated: the first is taken). `null` is handled by `Option`.
struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Bytes<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a journal field: a string or an array of bytes")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Bytes(Cow::Borrowed(v.as_bytes())))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Bytes(Cow::Owned(v.as_bytes().to_vec())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Bytes(Cow::Owned(v.into_bytes())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Bytes::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first: Option<Element> = seq.next_element()?;
        let value = match first {
            None => Bytes::default(),
            Some(Element::Value(value)) => {
                // The field repeated: the first value, the rest skipped.
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                value
            }
            Some(Element::Byte(b)) => {
                let mut bytes = vec![b];
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                Bytes(Cow::Owned(bytes))
            }
        };
        Ok(value)
    }
}

/// An element of an array field: a byte of a binary value, or one value
/// of a repeated field.
enum Element<'a> {
    Byte(u8),
    Value(Bytes<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Element<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementVisitor;
        impl<'de> Visitor<'de> for ElementVisitor {
            type Value = Element<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte or a journal field value")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                u8::try_from(v)
                    .map(Element::Byte)
                    .map_err(|_| E::custom(format!("{v} is not a byte")))
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                FieldVisitor.visit_borrowed_str(v).map(Element::Value)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                FieldVisitor.visit_str(v).map(Element::Value)
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                FieldVisitor.visit_string(v).map(Element::Value)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Element::Value(Bytes::default()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                FieldVisitor.visit_seq(seq).map(Element::Value)
            }
        }
        deserializer.deserialize_any(ElementVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_binary_repeated_and_null_fields_are_bytes() {
        let line = br#"{"__CURSOR":"s=1;i=2","MESSAGE":[104,105,0,255],"_SYSTEMD_UNIT":"ssh.service","_PID":["12","13"],"PRIORITY":null,"SYSLOG_IDENTIFIER":[[115,115],"x"],"X":{"nested":[1]}}"#;
        let entry = Entry::parse(line).unwrap();
        assert_eq!(entry.cursor.as_deref(), Some("s=1;i=2"));
        assert_eq!(entry.message.unwrap().as_bytes(), b"hi\0\xff");
        assert_eq!(entry.unit.unwrap().as_bytes(), b"ssh.service");
        assert_eq!(entry.pid.unwrap().as_bytes(), b"12");
        assert_eq!(entry.identifier.unwrap().as_bytes(), b"ss");
        assert_eq!(entry.priority, None);
        assert!(entry.hostname.is_none());
    }

    #[test]
    fn a_missing_or_null_message_is_none() {
        assert!(
            Entry::parse(br#"{"__CURSOR":"c"}"#)
                .unwrap()
                .message
                .is_none()
        );
        assert!(
            Entry::parse(br#"{"__CURSOR":"c","MESSAGE":null}"#)
                .unwrap()
                .message
                .is_none()
        );
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        let entry = Entry::parse(br#"{"MESSAGE":"a\"b\u00e9\n"}"#).unwrap();
        assert_eq!(entry.message.unwrap().as_bytes(), "a\"b\u{e9}\n".as_bytes());
    }

    #[test]
    fn the_time_is_the_sources_else_the_journals() {
        let both =
            Entry::parse(br#"{"__REALTIME_TIMESTAMP":"2000","_SOURCE_REALTIME_TIMESTAMP":"1000"}"#)
                .unwrap();
        assert_eq!(both.time_us(), Some(1000));
        assert_eq!(both.received_us(), Some(2000));
        let journal_only = Entry::parse(br#"{"__REALTIME_TIMESTAMP":"2000"}"#).unwrap();
        assert_eq!(journal_only.time_us(), Some(2000));
        assert_eq!(Entry::parse(b"{}").unwrap().time_us(), None);
    }

    #[test]
    fn a_line_that_is_not_an_object_is_an_error() {
        assert!(Entry::parse(b"not json").is_err());
        assert!(Entry::parse(br#"{"MESSAGE":[300]}"#).is_err());
    }
}
