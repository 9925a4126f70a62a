//! How each field is read: defaults, durations, intervals, and range checks that name
//! the field and its limits.

use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::*;

pub(super) mod defaults {
    use std::time::Duration;
    pub fn yes() -> bool {
        true
    }
    pub fn seed() -> u64 {
        1
    }
    pub fn warmup() -> Duration {
        Duration::from_secs(2)
    }
    pub fn validators() -> u32 {
        1
    }
    pub fn shards() -> u32 {
        4
    }
    pub fn deadline() -> u64 {
        10
    }
    pub fn snapshot_every() -> u64 {
        100
    }
    pub fn interval() -> Option<Duration> {
        Some(Duration::from_millis(100))
    }
    pub fn beacon_interval() -> Duration {
        Duration::from_millis(100)
    }
    pub fn max_block_txs() -> usize {
        10_000
    }
    pub fn threads() -> u32 {
        1
    }
    pub fn accounts() -> u64 {
        100_000
    }
    pub fn cross_shard() -> f64 {
        0.2
    }
    pub fn one() -> f64 {
        1.0
    }
    pub fn objects() -> u32 {
        8
    }
    pub fn slippage() -> f64 {
        0.01
    }
    pub fn hot_objects() -> u32 {
        1
    }
    pub fn hot_accounts() -> u64 {
        1
    }
}

/// Durations as humantime strings ("100ms", "10s").
pub(super) mod duration {
    use super::*;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| {
            de::Error::custom(format!(
                "invalid duration {s:?}: {e} (write e.g. \"100ms\" or \"10s\")"
            ))
        })
    }
}

/// A block interval: a positive duration or "asap" (`None`).
pub(super) mod interval {
    use super::*;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => duration::serialize(d, s),
            None => s.serialize_str("asap"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = String::deserialize(d)?;
        if s == "asap" {
            return Ok(None);
        }
        match humantime::parse_duration(&s) {
            Ok(d) if !d.is_zero() => Ok(Some(d)),
            Ok(_) => Err(de::Error::custom(
                "a block interval of 0 is not allowed; write \"asap\"",
            )),
            Err(e) => Err(de::Error::custom(format!(
                "invalid interval {s:?}: {e} (write e.g. \"100ms\", or \"asap\")"
            ))),
        }
    }
}

pub(super) fn in_range<'de, D: Deserializer<'de>, T>(
    d: D,
    lo: T,
    hi: T,
    what: &str,
) -> Result<T, D::Error>
where
    T: Deserialize<'de> + PartialOrd + fmt::Display + Copy,
{
    let v = T::deserialize(d)?;
    if v < lo || v > hi {
        return Err(de::Error::custom(format!(
            "{what} must be in {lo}..={hi}, got {v}"
        )));
    }
    Ok(v)
}

/// Most shards of a virtual cluster (`cluster.mode = "virtual"`).
pub const MAX_VIRTUAL_SHARDS: u32 = 1024;
/// Most shards of a process cluster: beyond it one machine measures itself, not the
/// protocol.
pub const MAX_PROCESS_SHARDS: u32 = 64;

pub(super) fn shard_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, 1, MAX_VIRTUAL_SHARDS, "shards")
}

pub(super) fn thread_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, 1, 16, "threads_per_shard")
}

pub(super) fn block_txs<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    in_range(d, 1, shardsim_proto::MAX_BLOCK_TXS, "max_block_txs")
}

pub(super) fn fraction<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    in_range(d, 0.0, 1.0, "cross_shard")
}

pub(super) fn skew<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    in_range(d, 0.0, 10.0, "skew")
}

pub(super) fn token_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, 0, 64, "tokens")
}

pub(super) fn object_count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    in_range(d, 0, 4096, "an object count")
}

pub(super) fn weight<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    in_range(d, 0.0, 1e9, "a mix weight")
}

pub(super) fn link_fraction<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    in_range(d, 0.0, 0.9, "drop and duplicate")
}

pub(super) fn phase_rate<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    in_range(d, 0, MAX_RATE, "phase rate")
}

/// A bandwidth in bits per second, written "100mbit", "1gbit", "500kbit" or "64000bit".
pub(super) mod bandwidth {
    use super::*;

    /// Parses a bandwidth, or says what is wrong with it.
    pub fn parse(s: &str) -> Result<u64, String> {
        let t = s.trim().to_ascii_lowercase();
        let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
        let scale = match unit {
            "bit" => 1,
            "kbit" => 1_000,
            "mbit" => 1_000_000,
            "gbit" => 1_000_000_000,
            _ => 0,
        };
        match digits.parse::<u64>() {
            Ok(n) if scale > 0 && n > 0 => n
                .checked_mul(scale)
                .filter(|&b| b >= 64_000)
                .ok_or_else(|| format!("bandwidth {s:?}: between 64kbit and 2^64 bit/s")),
            _ => Err(format!(
                "invalid bandwidth {s:?} (write e.g. \"100mbit\", \"1gbit\" or \"500kbit\")"
            )),
        }
    }

    pub fn serialize<S: serde::Serializer>(b: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.serialize_str(&format!("{b}bit")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map(Some).map_err(de::Error::custom)
    }
}
