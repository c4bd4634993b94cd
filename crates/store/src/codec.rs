//! The byte layout of records in the store file: a key's latest record (`kv` table) and the
//! events of one revision (`log` table). Little-endian integers, byte strings and counts
//! prefixed with their length as a `u64`.

use bytes::Bytes;

use crate::{Event, EventKind, KeyValue, Revision, StoreError};

const PUT: u8 = 0;
const DELETE: u8 = 1;

/// Encodes a key's record without its key (the key is the table key).
pub(crate) fn encode_kv(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + kv.value.len());
    put_record(&mut out, kv);
    out
}

pub(crate) fn decode_kv(key: &str, bytes: &[u8]) -> Result<KeyValue, StoreError> {
    let mut reader = Reader::new(bytes, "kv record");
    let kv = reader.record(key)?;
    reader.end()?;
    Ok(kv)
}

/// Encodes the events of one revision. A `Put` stores its new record and its previous one if
/// any; a `Delete` stores only the deleted record, from which the event is rebuilt.
pub(crate) fn encode_events(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    put_len(&mut out, events.len());
    for event in events {
        put_bytes(&mut out, event.kv.key.as_bytes());
        match (event.kind, &event.prev) {
            (EventKind::Put, prev) => {
                out.push(PUT);
                put_record(&mut out, &event.kv);
                match prev {
                    Some(prev) => {
                        out.push(1);
                        put_record(&mut out, prev);
                    }
                    None => out.push(0),
                }
            }
            (EventKind::Delete, Some(prev)) => {
                out.push(DELETE);
                put_record(&mut out, prev);
            }
            (EventKind::Delete, None) => {
                // Invariant: the batch never emits a delete without the deleted record.
                out.push(DELETE);
                put_record(&mut out, &event.kv);
            }
        }
    }
    out
}

pub(crate) fn decode_events(revision: Revision, bytes: &[u8]) -> Result<Vec<Event>, StoreError> {
    let mut reader = Reader::new(bytes, "log entry");
    let count = reader.len()?;
    let mut events = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let key = reader.string()?;
        let event = match reader.u8()? {
            PUT => {
                let kv = reader.record(&key)?;
                let prev = match reader.u8()? {
                    0 => None,
                    1 => Some(reader.record(&key)?),
                    _ => return Err(reader.corrupt()),
                };
                Event {
                    kind: EventKind::Put,
                    kv,
                    prev,
                }
            }
            DELETE => crate::apply::deletion(&reader.record(&key)?, revision),
            _ => return Err(reader.corrupt()),
        };
        events.push(event);
    }
    reader.end()?;
    Ok(events)
}

fn put_record(out: &mut Vec<u8>, kv: &KeyValue) {
    out.extend_from_slice(&kv.create_revision.to_le_bytes());
    out.extend_from_slice(&kv.mod_revision.to_le_bytes());
    out.extend_from_slice(&kv.version.to_le_bytes());
    put_bytes(out, &kv.value);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // usize is at most 64 bits on every supported target, so this never saturates.
    let n = u64::try_from(n).unwrap_or(u64::MAX);
    out.extend_from_slice(&n.to_le_bytes());
}

/// A cursor over an encoded record that turns any truncation into [`StoreError::Corrupt`].
struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader { bytes, what }
    }

    fn corrupt(&self) -> StoreError {
        StoreError::Corrupt { what: self.what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.bytes.len() < n {
            return Err(self.corrupt());
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let slice = self.take(N)?;
        slice.try_into().map_err(|_| self.corrupt())
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.array::<1>()?[0])
    }

    fn len(&mut self) -> Result<usize, StoreError> {
        let n = u64::from_le_bytes(self.array()?);
        usize::try_from(n).map_err(|_| self.corrupt())
    }

    fn i64(&mut self) -> Result<i64, StoreError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let len = self.len()?;
        self.take(len)
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.corrupt())
    }

    fn record(&mut self, key: &str) -> Result<KeyValue, StoreError> {
        Ok(KeyValue {
            key: key.to_owned(),
            create_revision: self.i64()?,
            mod_revision: self.i64()?,
            version: self.i64()?,
            value: Bytes::copy_from_slice(self.bytes()?),
        })
    }

    fn end(&self) -> Result<(), StoreError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::deletion;

    fn kv(key: &str, value: &str, c: Revision, m: Revision, v: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Bytes::copy_from_slice(value.as_bytes()),
            create_revision: c,
            mod_revision: m,
            version: v,
        }
    }

    #[test]
    fn events_round_trip() {
        let first = kv("/a", "1", 3, 3, 1);
        let second = kv("/a", "2", 3, 7, 2);
        let events = vec![
            Event {
                kind: EventKind::Put,
                kv: kv("/b", "", 7, 7, 1),
                prev: None,
            },
            Event {
                kind: EventKind::Put,
                kv: second.clone(),
                prev: Some(first),
            },
            deletion(&kv("/c", "x", 1, 2, 2), 7),
        ];
        let encoded = encode_events(&events);
        assert_eq!(decode_events(7, &encoded).unwrap(), events);
        for cut in 0..encoded.len() {
            assert!(
                decode_events(7, &encoded[..cut]).is_err(),
                "truncated at {cut}"
            );
        }
        assert_eq!(decode_kv("/a", &encode_kv(&second)).unwrap(), second);
    }

    #[test]
    fn corrupt_records_are_errors() {
        assert_eq!(
            decode_kv("/a", b"short").unwrap_err().to_string(),
            "decode kv record from the store file: record is corrupt"
        );
        let mut encoded = encode_events(&[deletion(&kv("/c", "x", 1, 2, 2), 7)]);
        encoded.push(0);
        assert!(decode_events(7, &encoded).is_err());
    }
}
