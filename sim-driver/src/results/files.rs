//! The files of a run: `summary.json`, `timeseries.csv`, the HdrHistogram logs.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};

use crate::measure::tracker::{Second, Tracker};

use super::summary::Summary;

/// Writes `summary.json`.
pub fn write_summary(dir: &Path, summary: &Summary) -> anyhow::Result<()> {
    let path = dir.join("summary.json");
    let text = serde_json::to_string_pretty(summary)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// The header of `timeseries.csv`.
pub const TIMESERIES_HEADER: &str = "second,shard,final,final_cross,rejected,receipts_emitted,receipts_applied,delayed_receipts_max,oldest_delayed_us,aborts,mempool_max,driver_held_max,gas,commits,commit_us,accounts_in,tp_open_max";

/// Writes `timeseries.csv`: one row per second and shard.
pub fn write_timeseries(dir: &Path, seconds: &[Second]) -> anyhow::Result<()> {
    let path = dir.join("timeseries.csv");
    let mut out = format!("{TIMESERIES_HEADER}\n");
    for (sec, s) in seconds.iter().enumerate() {
        for (shard, c) in s.shards.iter().enumerate() {
            out.push_str(&format!(
                "{sec},{shard},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                c.final_total,
                c.final_cross,
                c.rejected,
                c.receipts_emitted,
                c.receipts_applied,
                c.delayed_max,
                c.oldest_delayed_us,
                c.aborts,
                c.mempool_max,
                c.held_max,
                c.gas,
                c.commits,
                c.commit_us,
                c.accounts_in,
                c.open_max
            ));
        }
    }
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))
}

/// The tag of the interval that holds exactly the summary's latency population.
pub const MEASURED_TAG: &str = "measured";

/// Writes `latency-intra.hlog` and `latency-cross.hlog` in the HdrHistogram interval
/// log format (version 1.3, as HdrHistogram's own writers and readers use it):
///
/// ```text
///  #[Histogram log format version 1.3]
///  #[StartTime: 1764600278.000 (seconds since epoch), 2026-12-01T14:44:38Z]
///  #[BaseTime: 1764600278.000 (seconds since epoch)]
///  "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
///  0.000,1.000,12.345,HISTFAAA…                 one untagged interval per second:
///  1.000,1.000,11.002,HISTFAAA…                 every transaction final in it
///  Tag=measured,2.000,10.000,48.100,HISTFAAA…   the summary's population: every
///                                               transaction *sent* in the window
/// ```
///
/// Values are microseconds; `Interval_Max` is in milliseconds (µs / 1000), as the
/// `MaxValueDivisor` comment says. Readers that process untagged intervals by default
/// (HdrHistogram's `HistogramLogProcessor`) see the run second by second; the
/// `measured` interval reproduces `summary.json`'s `latency_ms` exactly.
pub fn write_hlogs(dir: &Path, started: SystemTime, tracker: &Tracker) -> anyhow::Result<()> {
    type Pick = fn(&Second) -> &Histogram<u64>;
    let epoch = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let date = humantime::format_rfc3339_seconds(started);
    let (w0, w1) = tracker.window();
    let ns_s = |ns: u64| ns as f64 / 1e9;
    for (kind, pick, measured) in [
        (
            "intra",
            (|s: &Second| &s.intra) as Pick,
            &tracker.latency.intra,
        ),
        (
            "cross",
            (|s: &Second| &s.cross) as Pick,
            &tracker.latency.cross,
        ),
    ] {
        let path = dir.join(format!("latency-{kind}.hlog"));
        let mut out = format!(
            "#[{kind}-shard latency in microseconds, written by shardsim {}]\n\
             #[Untagged intervals: one per second, the transactions final in it. Tag={MEASURED_TAG}: the measured window, by intended send time, as in summary.json]\n\
             #[Histogram log format version 1.3]\n\
             #[StartTime: {epoch:.3} (seconds since epoch), {date}]\n\
             #[BaseTime: {epoch:.3} (seconds since epoch)]\n\
             #[MaxValueDivisor: 1000.000]\n\
             \"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
            env!("CARGO_PKG_VERSION")
        );
        let mut line = |tag: Option<&str>, start: f64, length: f64, h: &Histogram<u64>| {
            let encoded =
                encode(h).map_err(|e| anyhow::anyhow!("encoding {}: {e}", path.display()))?;
            if let Some(tag) = tag {
                out.push_str(&format!("Tag={tag},"));
            }
            out.push_str(&format!(
                "{start:.3},{length:.3},{:.3},{encoded}\n",
                h.max() as f64 / 1000.0
            ));
            anyhow::Ok(())
        };
        for (sec, s) in tracker.seconds.iter().enumerate() {
            line(None, sec as f64, 1.0, pick(s))?;
        }
        line(
            Some(MEASURED_TAG),
            ns_s(w0),
            ns_s(w1.saturating_sub(w0)),
            measured,
        )?;
        std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// One histogram as the log stores it: V2 with DEFLATE, in base64.
fn encode(h: &Histogram<u64>) -> Result<String, String> {
    let mut raw = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut raw)
        .map_err(|e| format!("{e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(raw))
}

/// Reads a run's `summary.json` (given the run folder or the file itself).
pub fn read_summary(path: &Path) -> anyhow::Result<Summary> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))
}

/// Creates `<out>/<name>/<run-id>/`, where run-id is the UTC start time and the seed
/// (with a counter if two runs start in the same second).
pub fn results_dir(
    out: &Path,
    name: &str,
    seed: u64,
    started: SystemTime,
) -> anyhow::Result<(String, PathBuf)> {
    let stamp: String = humantime::format_rfc3339_seconds(started)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let base = format!("{stamp}-seed{seed}");
    let parent = out.join(name);
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    for n in 1.. {
        let id = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let dir = parent.join(&id);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    unreachable!("the loop returns")
}
