//! Large sequential writes on the blocking pool, one block in flight while the next fills.
//!
//! Uploads arrive as many small frames; writing each through `tokio::fs` costs a thread
//! hop per frame. Here frames are gathered into blocks of [`BLOCK`] bytes and written by
//! one blocking task at a time while the next block fills. Durability comes from the
//! fsync at commit. Along the way each written block's writeback is started, not waited
//! for (`sync_file_range(SYNC_FILE_RANGE_WRITE)` on Linux), so that the commit's fsync
//! finds little left to write; an fsync per block was measured slower (each one stalls
//! the writer).

use crate::error::RegistryError;
use std::io::Write;
use std::path::{Path, PathBuf};
use tokio::task::JoinHandle;

/// Bytes gathered before a write: small enough to still be in the CPU's caches when the
/// writer copies it into the page cache. With 4 MiB blocks that copy
/// (`copy_folio_from_iter_atomic`) was 47% of a 1 GiB push's CPU samples and the push took
/// 1.7 s; with 1 MiB, 6% and 1.27 s (SHA-256 is then the largest cost, 42%).
pub const BLOCK: usize = 1024 * 1024;

struct Done {
    file: std::fs::File,
    buffer: Vec<u8>,
}

/// Appends blocks to one file.
pub struct BlockWriter {
    path: PathBuf,
    idle: Option<Done>,
    pending: Option<JoinHandle<std::io::Result<Done>>>,
}

fn io(path: &Path, e: std::io::Error) -> RegistryError {
    RegistryError::from_io(format!("cannot write {}", path.display()), &e)
}

fn lost(path: &Path, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Internal(format!("the writer of {} was lost: {e}", path.display()))
}

impl BlockWriter {
    /// Opens `path` for appending.
    pub async fn open_append(path: &Path) -> Result<Self, RegistryError> {
        let owned = path.to_path_buf();
        let file = tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new().append(true).open(owned)
        })
        .await
        .map_err(|e| lost(path, e))?
        .map_err(|e| io(path, e))?;
        Ok(BlockWriter {
            path: path.to_path_buf(),
            idle: Some(Done { file, buffer: Vec::new() }),
            pending: None,
        })
    }

    async fn settle(&mut self) -> Result<Done, RegistryError> {
        if let Some(done) = self.idle.take() {
            return Ok(done);
        }
        match self.pending.take() {
            Some(task) => {
                task.await.map_err(|e| lost(&self.path, e))?.map_err(|e| io(&self.path, e))
            }
            None => Err(lost(&self.path, "after an error")),
        }
    }

    /// Queues `block` for writing after the one in flight; returns an empty buffer to
    /// fill next (the previous block's, recycled).
    pub async fn write(&mut self, block: Vec<u8>) -> Result<Vec<u8>, RegistryError> {
        let Done { mut file, buffer: mut recycled } = self.settle().await?;
        recycled.clear();
        self.pending = Some(tokio::task::spawn_blocking(move || {
            file.write_all(&block)?;
            start_writeback(&mut file, block.len() as u64);
            Ok(Done { file, buffer: block })
        }));
        Ok(recycled)
    }

    /// Writes `block`, waits until it is written, and frees every buffer: for a writer
    /// whose source has gone quiet, so that it holds no memory while it waits.
    pub async fn write_and_release(&mut self, block: Vec<u8>) -> Result<(), RegistryError> {
        if !block.is_empty() {
            drop(self.write(block).await?);
        }
        let mut done = self.settle().await?;
        done.buffer = Vec::new();
        self.idle = Some(done);
        Ok(())
    }

    /// Waits for the last block to be written.
    pub async fn finish(mut self) -> Result<(), RegistryError> {
        self.settle().await.map(drop)
    }
}

/// Starts writing back the `length` bytes just appended, without waiting for them (best
/// effort: an error here only means the commit's fsync does all the work). Only that range,
/// so that each call does not walk the whole file's pages again.
#[cfg(target_os = "linux")]
fn start_writeback(file: &mut std::fs::File, length: u64) {
    use std::io::Seek;
    use std::os::fd::AsRawFd;
    let Ok(end) = file.stream_position() else {
        return;
    };
    let (Some(Ok(start)), Ok(length)) =
        (end.checked_sub(length).map(i64::try_from), i64::try_from(length))
    else {
        return;
    };
    // SAFETY: a valid open descriptor and a range inside the file.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), start, length, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &mut std::fs::File, _length: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blocks_are_appended_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"start:").unwrap();
        let mut writer = BlockWriter::open_append(&path).await.unwrap();
        let mut next = writer.write(b"one,".to_vec()).await.unwrap();
        next.extend_from_slice(b"two,");
        let _ = writer.write(next).await.unwrap();
        writer.write(b"three".to_vec()).await.unwrap();
        writer.finish().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"start:one,two,three");
    }
}
