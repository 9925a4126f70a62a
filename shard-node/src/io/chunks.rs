//! A snapshot's bytes on the wire (state sync, `crate::validator::sync`): cut into
//! chunks small enough to share a committee link with consensus traffic, each named
//! by its hash in a manifest, so that a chunk is checked the moment it arrives and a
//! bad one is fetched again from another peer.
//!
//! ```text
//!  snapshot bytes ──cut every CHUNK──► chunk 0, chunk 1, …
//!  manifest: height, size, blake3(chunk i) for each i, certified header of the height
//! ```

use shardsim_proto::pb;

/// Bytes per chunk.
pub const CHUNK: usize = 256 * 1024;

/// A snapshot's bytes as the wire carries them: its manifest (with the certified
/// `header` of its height).
pub fn manifest(height: u64, bytes: &[u8], header: pb::CertifiedHeader) -> pb::SnapshotManifest {
    pb::SnapshotManifest {
        height,
        size: bytes.len() as u64,
        chunks: bytes
            .chunks(CHUNK)
            .map(|c| blake3::hash(c).as_bytes().to_vec())
            .collect(),
        header: Some(header),
    }
}

/// Chunk `index` of a snapshot's bytes.
pub fn chunk(bytes: &[u8], index: u32) -> Option<&[u8]> {
    bytes.chunks(CHUNK).nth(index as usize)
}

/// Whether `data` is chunk `index` of the snapshot `manifest` describes.
pub fn chunk_ok(manifest: &pb::SnapshotManifest, index: u32, data: &[u8]) -> bool {
    let Some(expected) = manifest.chunks.get(index as usize) else {
        return false;
    };
    let whole = manifest.size as usize;
    let len = CHUNK.min(whole.saturating_sub(index as usize * CHUNK));
    data.len() == len && blake3::hash(data).as_bytes()[..] == expected[..]
}
