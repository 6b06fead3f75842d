//! Reads referenced secrets while providers are still being discovered. Discovery costs one
//! Get per provider and no list names the secret, so without this the secret reads (one
//! GetResourcePolicy per secret, which no list returns) would all wait for the last Get.
//!
//! Each secret is offered once, in discovery order; offers are batched and read by a few
//! workers through [`Collector::read_ahead`]; the waves then take the facts from the collector.
//! Workers start once the ListSecrets listing (if any) is in, so listed secrets are not
//! described one by one. At most `limit` secrets are read ahead (memory), and none once the
//! invocation's deadline (less its margin) is near; the rest are read in their waves.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::collect::Collector;

/// References per read-ahead batch: a multiple of the BatchGetSecretValue size, and enough
/// GetResourcePolicy reads to keep the collector's concurrency busy.
pub const BATCH: usize = 100;

/// Read-ahead batches in flight.
const WORKERS: usize = 2;

pub struct Prefetcher {
    batches: Option<mpsc::UnboundedSender<Vec<String>>>,
    pending: Vec<String>,
    seen: HashSet<String>,
    limit: usize,
    workers: JoinSet<()>,
}

impl Prefetcher {
    /// Workers wait until `listed` turns true (or its sender is dropped), and read no batch
    /// after `until` (the invocation's deadline less its margin): the waves read those.
    pub fn start(
        collector: Arc<Collector>,
        listed: watch::Receiver<bool>,
        limit: usize,
        until: Option<Instant>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Vec<String>>();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let mut workers = JoinSet::new();
        for _ in 0..WORKERS {
            let (collector, rx, mut listed) = (collector.clone(), rx.clone(), listed.clone());
            workers.spawn(async move {
                // A dropped sender means no listing is coming: describe instead.
                let _ = listed.wait_for(|done| *done).await;
                loop {
                    let batch = rx.lock().await.recv().await;
                    let Some(batch) = batch else { break };
                    if until.is_some_and(|u| Instant::now() >= u) {
                        continue;
                    }
                    Box::pin(collector.read_ahead(batch)).await;
                }
            });
        }
        Self {
            batches: Some(tx),
            pending: Vec::with_capacity(BATCH),
            seen: HashSet::new(),
            limit,
            workers,
        }
    }

    /// Reads `reference` ahead unless it was offered before or the limit is reached.
    pub fn offer(&mut self, reference: &str) {
        if self.seen.len() >= self.limit || self.seen.contains(reference) {
            return;
        }
        self.seen.insert(reference.to_string());
        self.pending.push(reference.to_string());
        if self.pending.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
        if let Some(tx) = &self.batches {
            // Workers only stop after the sender is dropped, so this cannot fail.
            let _ = tx.send(batch);
        }
    }

    /// Reads what is still pending and waits for every batch to be read.
    pub async fn finish(mut self) {
        self.flush();
        self.batches = None;
        while let Some(joined) = self.workers.join_next().await {
            if let Err(e) = joined {
                if e.is_panic() {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::HashMap;

    use crate::audit::collect::recording::{meta, Recording};
    use crate::audit::snapshot::SecretMeta;
    use crate::audit::AuditConfig;

    fn arn(i: usize) -> String {
        format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:s{i:04}-AbCdEf")
    }

    #[tokio::test]
    async fn each_secret_is_read_once_in_full_batches_after_the_listing_and_taken_by_its_wave() {
        let inventory = Arc::new(Recording::default());
        let collector =
            Collector::new(inventory.clone(), None, "us-east-1", AuditConfig::default());
        let (listed_tx, listed_rx) = watch::channel(false);
        let mut prefetch = Prefetcher::start(collector.clone(), listed_rx, 1000, None);
        for i in 0..250 {
            prefetch.offer(&arn(i));
            prefetch.offer(&arn(i)); // five providers per secret, say
        }
        // Nothing is read before the listing is in.
        tokio::task::yield_now().await;
        assert!(inventory.batches.lock().unwrap().is_empty());
        let listed: HashMap<String, SecretMeta> =
            (0..200).map(|i| (arn(i), meta(&arn(i)))).collect();
        collector.set_listed(listed);
        listed_tx.send(true).unwrap();
        prefetch.finish().await;

        // Listed secrets were not described; the 50 unlisted ones were, once each.
        assert_eq!(inventory.described.lock().unwrap().len(), 50);
        let mut batches = inventory.batches.lock().unwrap().clone();
        batches.sort();
        assert_eq!(batches.iter().sum::<usize>(), 250);
        assert!(batches.iter().all(|b| *b == 20 || *b == 10), "{batches:?}");
        let ahead = collector.take_ahead_tally();
        assert_eq!(
            (ahead.values, ahead.policies, ahead.described),
            (250, 250, 50)
        );

        // The wave takes the facts without reading anything again.
        let (secrets, _, tally) = collector.collect((0..250).map(arn).collect()).await;
        assert_eq!(secrets.len(), 250);
        assert_eq!(tally, Default::default());
        assert_eq!(inventory.described.lock().unwrap().len(), 50);
    }

    #[tokio::test]
    async fn nothing_is_read_ahead_past_the_deadline() {
        let inventory = Arc::new(Recording::default());
        let collector =
            Collector::new(inventory.clone(), None, "us-east-1", AuditConfig::default());
        let (_, listed_rx) = watch::channel(false);
        let mut prefetch =
            Prefetcher::start(collector.clone(), listed_rx, 1000, Some(Instant::now()));
        for i in 0..150 {
            prefetch.offer(&arn(i));
        }
        prefetch.finish().await;
        assert!(inventory.described.lock().unwrap().is_empty());
        assert_eq!(collector.ahead_count(), 0);
        assert!(!collector.all_ahead(&[arn(0)]));
    }

    #[tokio::test]
    async fn past_the_limit_secrets_are_left_to_their_waves() {
        let inventory = Arc::new(Recording::default());
        let collector =
            Collector::new(inventory.clone(), None, "us-east-1", AuditConfig::default());
        let (_, listed_rx) = watch::channel(false);
        let mut prefetch = Prefetcher::start(collector.clone(), listed_rx, 30, None);
        for i in 0..40 {
            prefetch.offer(&arn(i));
        }
        prefetch.finish().await;
        assert_eq!(inventory.described.lock().unwrap().len(), 30);
        let (secrets, _, tally) = collector.collect((0..40).map(arn).collect()).await;
        assert_eq!(secrets.len(), 40);
        assert_eq!(tally.described, 10);
    }
}
