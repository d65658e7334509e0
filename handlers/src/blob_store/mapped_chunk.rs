//! A piece of a blob file mapped into memory, so that a pull copies its bytes once (page
//! cache to socket) instead of twice (page cache to a buffer, buffer to socket).
//!
//! Safe because committed blob files are immutable: written under `uploads/`, fsynced,
//! renamed into place and never written, truncated or extended again. A blob deleted during
//! a read is unlinked, which keeps the mapped inode alive until the last chunk is dropped.
//! The pages are faulted in (`MAP_POPULATE`) by the blocking reader thread that maps them,
//! so the async worker that sends them does not wait on the disk.

use std::os::fd::AsRawFd;

/// One mapped range of a file; unmapped when dropped.
pub struct MappedChunk {
    /// Start of the mapping (page-aligned).
    base: *mut libc::c_void,
    /// Length of the mapping.
    mapped: usize,
    /// Where the wanted bytes start inside the mapping.
    skip: usize,
    /// How many bytes are wanted.
    length: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone; nothing else unmaps it.
unsafe impl Send for MappedChunk {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for MappedChunk {}

impl MappedChunk {
    /// Maps `length` bytes of `file` from `start`. The caller has checked that the file
    /// holds them: touching a mapped page past the end of a file is a SIGBUS. `length` is
    /// not zero.
    pub fn map(file: &std::fs::File, start: u64, length: usize) -> std::io::Result<Self> {
        let page = page_size();
        let aligned = start - start % page;
        let skip = (start - aligned) as usize;
        let mapped = skip + length;
        let offset = libc::off_t::try_from(aligned)
            .map_err(|_| std::io::Error::other("offset beyond what mmap takes"))?;
        // SAFETY: a fresh read-only shared mapping of an open descriptor; the kernel picks
        // the address. Errors come back as MAP_FAILED.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                file.as_raw_fd(),
                offset,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(MappedChunk { base, mapped, skip, length })
    }
}

impl AsRef<[u8]> for MappedChunk {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the mapping is live for as long as self, readable, and covers
        // skip..skip + length; the file's bytes there never change (see the module comment).
        unsafe { std::slice::from_raw_parts((self.base as *const u8).add(self.skip), self.length) }
    }
}

impl Drop for MappedChunk {
    fn drop(&mut self) {
        // SAFETY: base and mapped are exactly what mmap returned and took.
        unsafe {
            libc::munmap(self.base, self.mapped);
        }
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|s| *s > 0).unwrap_or(4096)
}
