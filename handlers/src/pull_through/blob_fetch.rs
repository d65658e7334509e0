//! One upstream fetch per missing blob, however many clients pull it at once: the first
//! client leads (it receives the bytes as they arrive from upstream while they are written
//! to the store), the others wait for the stored blob. The bytes are checked against the
//! digest before the blob becomes visible; the leader's last chunk is held back until
//! then, so that a mismatch breaks its download instead of completing it.

use crate::blob_store::ByteStream;
use crate::digest::Digest;
use crate::reference::RepositoryName;
use crate::registry::Registry;
use crate::scope::RegistryScope;
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Chunks buffered towards the store and towards the leading client: memory stays flat
/// whatever the blob's size. A chunk is what the upstream connection read at once (up to
/// hyper's read buffer, some 400 KiB on loopback): 16 of them put peak RSS through a 1 GiB
/// pull-through pull at 28 MiB, 4 at 25, 2 at 24 (distribution's: 23.6), with no change in
/// throughput (BENCHMARKS.md).
const CHANNEL_CHUNKS: usize = 2;

/// How long the fetch waits for a leading client that stopped reading before it goes on
/// without it (the blob is still stored for the others).
const CLIENT_STALL: Duration = Duration::from_secs(30);

/// `Some(stored)` once a fetch has ended.
type Outcome = Option<bool>;

/// The fetches under way, by digest.
#[derive(Debug, Default)]
pub(super) struct BlobFetches {
    running: Mutex<HashMap<Digest, watch::Receiver<Outcome>>>,
}

/// A caller's part in a fetch.
pub(super) enum Turn {
    /// Nobody fetches the blob: this caller does, and must end the fetch with the lead.
    Lead(Lead),
    /// Another caller fetches it: wait for this to say how it ended.
    Follow(watch::Receiver<Outcome>),
}

/// The right and duty to end one fetch: dropping it without [`Lead::finish`] ends the
/// fetch as failed, so that followers never wait forever.
pub(super) struct Lead {
    fetches: Arc<BlobFetches>,
    digest: Digest,
    done: Option<watch::Sender<Outcome>>,
}

impl Lead {
    /// Ends the fetch; followers then look in the store.
    pub(super) fn finish(mut self, stored: bool) {
        self.end(stored);
    }

    /// A receiver that learns how the fetch ended.
    pub(super) fn subscribe(&self) -> Option<watch::Receiver<Outcome>> {
        self.done.as_ref().map(watch::Sender::subscribe)
    }

    fn end(&mut self, stored: bool) {
        if let Some(done) = self.done.take() {
            self.fetches.forget(&self.digest);
            let _ = done.send(Some(stored));
        }
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        self.end(false);
    }
}

impl BlobFetches {
    /// Leads the fetch of `digest`, or follows the one under way.
    pub(super) fn join(self: &Arc<Self>, digest: &Digest) -> Turn {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(receiver) = running.get(digest) {
            return Turn::Follow(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        running.insert(digest.clone(), receiver);
        Turn::Lead(Lead { fetches: self.clone(), digest: digest.clone(), done: Some(sender) })
    }

    fn forget(&self, digest: &Digest) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.remove(digest);
    }
}

/// Waits until a fetch has ended.
pub(super) async fn wait(mut receiver: watch::Receiver<Outcome>) {
    // An error means the lead was dropped, which sent its outcome first.
    let _ = receiver.wait_for(Option::is_some).await;
}

/// The chunks a leading client receives.
pub(super) fn client_channel() -> (mpsc::Sender<std::io::Result<Bytes>>, ByteStream) {
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    let body = stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    })
    .boxed();
    (sender, body)
}

/// Where a fetched blob goes.
pub(super) struct Destination {
    pub registry: Arc<Registry>,
    pub scope: RegistryScope,
    pub repository: RepositoryName,
    pub digest: Digest,
}

/// Copies `upstream` into the store and to the leading client, then ends the fetch.
pub(super) async fn fill(
    to: Destination, upstream: ByteStream, client: mpsc::Sender<std::io::Result<Bytes>>, lead: Lead,
) {
    let (store_sender, store_receiver) = mpsc::channel(CHANNEL_CHUNKS);
    let into_store = stream::unfold(store_receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    })
    .boxed();
    let mut client = Some(client);
    let stored = to.registry.store_blob(&to.scope, &to.repository, &to.digest, into_store);
    let copied = copy(upstream, store_sender, &mut client);
    let (stored, copied) = tokio::join!(stored, copied);
    match (stored, copied) {
        (Ok(_), Ok(last)) => {
            if let Some(last) = last {
                offer(&mut client, Ok(last)).await;
            }
            lead.finish(true);
        }
        (stored, copied) => {
            let why = match (stored, copied) {
                (_, Err(e)) => e.to_string(),
                (Err(e), _) => e.to_string(),
                _ => String::new(),
            };
            tracing::error!(
                digest = %to.digest,
                repository = %to.repository,
                "pull-through cache: the upstream blob was not stored: {why}"
            );
            offer(
                &mut client,
                Err(std::io::Error::other(format!(
                    "the upstream blob {} was refused: {why}",
                    to.digest
                ))),
            )
            .await;
            lead.finish(false);
        }
    }
}

/// Streams upstream's chunks to the store, and each but the last to the client; returns
/// the last chunk.
async fn copy(
    mut upstream: ByteStream, store: mpsc::Sender<std::io::Result<Bytes>>,
    client: &mut Option<mpsc::Sender<std::io::Result<Bytes>>>,
) -> std::io::Result<Option<Bytes>> {
    let mut held: Option<Bytes> = None;
    while let Some(chunk) = upstream.next().await {
        match chunk {
            Ok(bytes) => {
                if store.send(Ok(bytes.clone())).await.is_err() {
                    return Err(std::io::Error::other("the store stopped reading"));
                }
                if let Some(previous) = held.replace(bytes) {
                    offer(client, Ok(previous)).await;
                }
            }
            Err(e) => {
                let why = format!("the upstream download broke off: {e}");
                let _ = store.send(Err(std::io::Error::other(why.clone()))).await;
                return Err(std::io::Error::other(why));
            }
        }
    }
    Ok(held)
}

/// Gives the client a chunk; a client that has gone, or stopped reading for
/// [`CLIENT_STALL`], is let go (its download then breaks off).
async fn offer(
    client: &mut Option<mpsc::Sender<std::io::Result<Bytes>>>, chunk: std::io::Result<Bytes>,
) {
    if let Some(sender) = client {
        match tokio::time::timeout(CLIENT_STALL, sender.send(chunk)).await {
            Ok(Ok(())) => {}
            _ => *client = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_leads_the_others_follow_until_it_ends() {
        let fetches = Arc::new(BlobFetches::default());
        let digest = Digest::of(b"x");
        let Turn::Lead(lead) = fetches.join(&digest) else { panic!("the first caller leads") };
        let Turn::Follow(follower) = fetches.join(&digest) else {
            panic!("the second caller follows")
        };
        let waiting = tokio::spawn(wait(follower.clone()));
        lead.finish(true);
        waiting.await.unwrap();
        assert_eq!(*follower.borrow(), Some(true));
        // Ended: the next caller leads a new fetch; a dropped lead fails its followers.
        let Turn::Lead(lead) = fetches.join(&digest) else {
            panic!("a new fetch after the first ended")
        };
        let Turn::Follow(follower) = fetches.join(&digest) else { panic!("follows the new fetch") };
        drop(lead);
        wait(follower.clone()).await;
        assert_eq!(*follower.borrow(), Some(false));
    }
}
