//! The explorer's view of the chain: one task keeps a job book in step with
//! the node and publishes each new state as an immutable snapshot, which
//! requests read without waiting for the node and live pages follow.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::transports::http::reqwest;
use serde::Serialize;
use tokio::sync::watch;
use vtrain_dispute::{Currency, JobBook, Market};

use crate::view::Currencies;

/// The chain as of one sync.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    /// The latest block read, and its time (Unix seconds).
    pub block: u64,
    /// The latest block's time: what deadlines and windows are measured against.
    pub time: u64,
    /// Counts the snapshots published: a page that saw version v and
    /// receives a greater one reloads what it shows.
    pub version: u64,
    /// Every job, game and announced artifact, from the deployment's events.
    #[serde(skip)]
    pub book: JobBook,
    /// The currency of every job's token, read once from its contract.
    #[serde(skip)]
    pub currencies: Currencies,
}

/// The read-only market and the latest snapshot.
pub struct Chain {
    /// The deployment's contracts, over a read-only provider.
    pub market: Market<DynProvider>,
    snapshot: watch::Sender<Arc<Snapshot>>,
    /// The sender and gas of each move's transaction already read: a game
    /// page redraws at every block, and a mined transaction's receipt does
    /// not change (the cache is emptied on a reorg).
    receipts: parking_lot::Mutex<HashMap<B256, (Address, u64)>>,
    /// Each block's time, by number, as read (a game page shows each move's
    /// clock; emptied on a reorg).
    block_times: parking_lot::Mutex<HashMap<u64, u64>>,
    /// Checkpoints that checked out, by committed root and index (a root
    /// names its bytes for good, so an `ok` is never asked again).
    checked: parking_lot::Mutex<HashMap<(B256, u32), crate::checkpoints::CheckpointCheck>>,
    /// The deployment's fixed parameters, read once.
    constants: tokio::sync::OnceCell<Constants>,
    /// One checkpoint fetch at a time: each may hold up to
    /// `checkpoints::MAX_BYTES` in memory.
    fetching: tokio::sync::Semaphore,
    /// The book the sync reads the chain into; a snapshot gets a copy only
    /// when something changed.
    working: tokio::sync::Mutex<(JobBook, Currencies)>,
    /// The client that relays the solvers' progress (`crate::progress`),
    /// built once: a job page asks at every block.
    pub(crate) http: reqwest::Client,
}

/// What a deployment fixes for good: the game's chess clock and extension
/// (`DisputeGame.clock`, `.extension`) and the market's burn address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Constants {
    /// Each side's clock per game, in seconds.
    pub clock: u64,
    /// The extension per game opened on a job, in seconds.
    pub extension: u64,
    /// Where burned value is credited.
    pub burn: Address,
}

/// The most receipts kept; past it the cache starts over.
const MAX_RECEIPTS: usize = 100_000;

impl Chain {
    /// A chain view of `market`, with an empty book until the first sync.
    pub fn new(market: Market<DynProvider>) -> eyre::Result<Arc<Self>> {
        let book = JobBook::starting_at(market.deployed_at());
        let (snapshot, _) = watch::channel(Arc::new(Snapshot {
            block: 0,
            time: 0,
            version: 0,
            book: book.clone(),
            currencies: Currencies::new(),
        }));
        Ok(Arc::new(Self {
            market,
            snapshot,
            receipts: parking_lot::Mutex::new(HashMap::new()),
            block_times: parking_lot::Mutex::new(HashMap::new()),
            checked: parking_lot::Mutex::new(HashMap::new()),
            constants: tokio::sync::OnceCell::new(),
            fetching: tokio::sync::Semaphore::new(1),
            working: tokio::sync::Mutex::new((book, Currencies::new())),
            http: crate::progress::client()?,
        }))
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// A receiver that wakes at each new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshot.subscribe()
    }

    /// Reads the chain once: new events, the head. Publishes a new snapshot
    /// when either changed. Returns whether it did.
    pub async fn sync(&self) -> vtrain_dispute::Result<bool> {
        let mut working = self.working.lock().await;
        let (book, currencies) = &mut *working;
        let current = self.snapshot();
        let (head, synced) = self.market.catch_up(book).await?;
        // A token is read once, when its first job appears (its symbol and
        // decimals do not change; one that cannot be read shows raw units).
        // Only new events can bring one: an idle poll reads nothing more.
        if synced.applied > 0 || synced.reorg.is_some() {
            let tokens: Vec<Address> = book.jobs.values().map(|j| j.token).collect();
            for token in tokens {
                if token != vtrain_dispute::ETH && !currencies.contains_key(&token) {
                    let currency = Currency::read_or_raw(self.market.provider(), token).await;
                    currencies.insert(token, currency);
                }
            }
        }
        let changed = synced.applied > 0
            || synced.reorg.is_some()
            || head.number != current.block
            || head.timestamp != current.time;
        if synced.reorg.is_some() {
            self.receipts.lock().clear();
            self.block_times.lock().clear();
        }
        if changed {
            self.snapshot.send_replace(Arc::new(Snapshot {
                block: head.number,
                time: head.timestamp,
                version: current.version + 1,
                book: book.clone(),
                currencies: currencies.clone(),
            }));
        }
        Ok(changed)
    }

    /// The sender and gas used of transaction `tx`, from the cache or the
    /// node (`None` if the node has no receipt for it).
    pub async fn sender_and_gas(&self, tx: B256) -> vtrain_dispute::Result<Option<(Address, u64)>> {
        if let Some(known) = self.receipts.lock().get(&tx) {
            return Ok(Some(*known));
        }
        let Some(receipt) = self.receipt(tx).await? else {
            return Ok(None);
        };
        let known = (receipt.from, receipt.gas_used);
        remember(&self.receipts, tx, known);
        Ok(Some(known))
    }

    /// The deployment's [`Constants`], read from the chain the first time.
    pub async fn constants(&self) -> vtrain_dispute::Result<Constants> {
        let read = || async {
            let call = vtrain_dispute::Error::from_contract;
            Ok(Constants {
                clock: self.market.game().clock().call().await.map_err(call)?,
                extension: self.market.game().extension().call().await.map_err(call)?,
                burn: self
                    .market
                    .market()
                    .BURN_ADDRESS()
                    .call()
                    .await
                    .map_err(call)?,
            })
        };
        self.constants.get_or_try_init(read).await.copied()
    }

    /// The time (Unix seconds) of block `number`, from the cache or the node.
    pub async fn block_time(&self, number: u64) -> vtrain_dispute::Result<u64> {
        if let Some(time) = self.block_times.lock().get(&number) {
            return Ok(*time);
        }
        let block = self
            .market
            .provider()
            .get_block_by_number(number.into())
            .await
            .map_err(vtrain_dispute::Error::Rpc)?
            .ok_or(vtrain_dispute::Error::MissingBlock(number))?;
        remember(&self.block_times, number, block.header.timestamp);
        Ok(block.header.timestamp)
    }

    /// Checks checkpoint `index` of job `id` as of `book`
    /// (`crate::checkpoints`): from the cache when it checked out before.
    pub async fn check_checkpoint(
        &self,
        book: &JobBook,
        id: u64,
        index: u32,
    ) -> Result<crate::checkpoints::CheckpointCheck, crate::checkpoints::CheckError> {
        let target = crate::checkpoints::target(book, id, index)?;
        if let Some(known) = self.checked.lock().get(&(target.root, index)) {
            return Ok(known.clone());
        }
        let _turn = self.fetching.acquire().await;
        let found = crate::checkpoints::check(&self.http, index, &target).await;
        if found.status == "ok" {
            remember(&self.checked, (target.root, index), found.clone());
        }
        Ok(found)
    }

    /// The logs of transaction `tx` (its receipt's), or none if the node has
    /// no receipt for it.
    pub async fn logs_of(&self, tx: B256) -> vtrain_dispute::Result<Vec<alloy::rpc::types::Log>> {
        let receipt = self.receipt(tx).await?;
        Ok(receipt.map(|r| r.inner.logs().to_vec()).unwrap_or_default())
    }

    async fn receipt(
        &self,
        tx: B256,
    ) -> vtrain_dispute::Result<Option<alloy::rpc::types::TransactionReceipt>> {
        self.market
            .provider()
            .get_transaction_receipt(tx)
            .await
            .map_err(vtrain_dispute::Error::Rpc)
    }

    /// Syncs every `poll` until the process ends; a failed sync (the node
    /// unreachable) is logged when it starts and when it clears, and the
    /// pages keep the last snapshot meanwhile.
    pub async fn follow(self: Arc<Self>, poll: Duration) {
        let mut failures = vtrain_cli::FailureLog::default();
        loop {
            let result = self.sync().await.map(|_| ()).map_err(Into::into);
            failures.report("explorer sync", result);
            tokio::time::sleep(poll).await;
        }
    }
}

/// Caches `value` under `key`; a cache at `MAX_RECEIPTS` entries starts over.
fn remember<K: std::hash::Hash + Eq, V>(
    cache: &parking_lot::Mutex<HashMap<K, V>>,
    key: K,
    value: V,
) {
    let mut cache = cache.lock();
    if cache.len() >= MAX_RECEIPTS {
        cache.clear();
    }
    cache.insert(key, value);
}
