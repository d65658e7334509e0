//! The machine's own limits, measured in the same run as the transfers they bound: SHA-256
//! over the same bytes (a push hashes everything), a write of the same size ended by
//! fdatasync (what `dd conv=fdatasync` measures; a push must be durable before its 201),
//! and loopback TCP from a plain sender to a plain receiver (a pull can go no faster).
//! Each transfer is then shown as a fraction of its bound.

use super::servers::Kind;
use super::workloads::Blob;
use super::{stats, Samples};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Instant;

/// MB/s of each limit in one round.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub sha256: f64,
    pub durable_write: f64,
    pub loopback: f64,
}

fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds.max(1e-9)
}

/// Hands `blob`'s bytes to `each` in pieces of `buffer`'s size.
fn each_piece(
    blob: &Blob, buffer: &mut [u8], mut each: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<(), String> {
    let mut reader = blob.reader(blob.size);
    loop {
        let n = reader.read(buffer).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        each(&buffer[..n]).map_err(|e| e.to_string())?;
    }
}

/// Measures the three limits over `blob`'s bytes, writing in `dir`.
pub fn measure(dir: &Path, blob: &Blob) -> Result<Limits, String> {
    let mut buffer = vec![0u8; 1 << 20];

    let started = Instant::now();
    let mut hasher = Sha256::new();
    each_piece(blob, &mut buffer, |piece| {
        hasher.update(piece);
        Ok(())
    })?;
    let _ = hasher.finalize();
    let sha256 = mb_per_s(blob.size, started.elapsed().as_secs_f64());

    let path = dir.join("limit-write.bin");
    let started = Instant::now();
    {
        let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        each_piece(blob, &mut buffer, |piece| file.write_all(piece))?;
        file.sync_data().map_err(|e| e.to_string())?;
    }
    let durable_write = mb_per_s(blob.size, started.elapsed().as_secs_f64());
    let _ = std::fs::remove_file(&path);

    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let receiver = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut stream, _) = listener.accept()?;
        let mut buffer = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = stream.read(&mut buffer)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    });
    let started = Instant::now();
    {
        let mut stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
        each_piece(blob, &mut buffer, |piece| stream.write_all(piece))?;
    }
    let received =
        receiver.join().map_err(|_| "the receiver panicked")?.map_err(|e| e.to_string())?;
    if received != blob.size {
        return Err(format!("loopback received {received} of {} bytes", blob.size));
    }
    let loopback = mb_per_s(blob.size, started.elapsed().as_secs_f64());
    Ok(Limits { sha256, durable_write, loopback })
}

/// Each transfer's median as a fraction of the median limit that bounds it.
pub fn fractions(samples: &Samples, rounds: &[Limits]) -> Vec<String> {
    let median = |f: fn(&Limits) -> f64| {
        let values: Vec<f64> = rounds.iter().map(f).collect();
        stats(&values).map(|(m, _, _)| m)
    };
    let (Some(sha), Some(write), Some(tcp)) =
        (median(|l| l.sha256), median(|l| l.durable_write), median(|l| l.loopback))
    else {
        return Vec::new();
    };
    let push_bound = sha.min(write);
    let mut lines = vec![format!(
        "machine limits (medians over {} rounds): SHA-256 {sha:.0} MB/s, write + fdatasync \
         {write:.0} MB/s, loopback TCP {tcp:.0} MB/s; a push is bound by min(SHA-256, write) \
         = {push_bound:.0} MB/s",
        rounds.len()
    )];
    for (metric, bound, named) in [
        ("push 1 GiB monolithic", push_bound, "min(SHA-256, write)"),
        ("push 1 GiB in 16 MiB chunks", push_bound, "min(SHA-256, write)"),
        ("pull 1 GiB", tcp, "loopback TCP"),
        ("pull 1 GiB with curl", tcp, "loopback TCP"),
    ] {
        for kind in [Kind::Distribution, Kind::Berth] {
            if let Some(value) = samples.median(metric, kind) {
                lines.push(format!(
                    "{metric}, {}: {value:.0} MB/s = {:.0}% of {named}",
                    kind.name(),
                    100.0 * value / bound
                ));
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_limits_are_measured() {
        let dir = super::super::servers::tempfile_dir::Dir::new("limits").unwrap();
        let blob = Blob::new(7, 8 << 20);
        let limits = measure(dir.path(), &blob).unwrap();
        for (name, value) in [
            ("sha256", limits.sha256),
            ("durable write", limits.durable_write),
            ("loopback", limits.loopback),
        ] {
            assert!(value.is_finite() && value > 0.0, "{name}: {value}");
        }
        assert!(!dir.path().join("limit-write.bin").exists());
    }
}
