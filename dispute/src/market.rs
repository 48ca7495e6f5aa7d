//! The agents' handle on a deployment: typed views of the market, and one way
//! to send any transaction — simulated first, so a revert is reported with its
//! decoded reason and costs nothing, then sent with a gas margin.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};

use crate::bindings::artifact_registry::ArtifactRegistry;
use crate::bindings::dispute_game::DisputeGame;
use crate::bindings::job_market::JobMarket;
use crate::book::{BookSources, Synced};
use crate::deployment::Deployment;
use crate::error::{Error, Result};
use crate::game::duty::JobOutcome;

/// `JobMarket.Status`, numbered as on chain.
pub mod status {
    #![allow(missing_docs)]
    pub const OPEN: u8 = 1;
    pub const CLAIMED: u8 = 2;
    pub const SUBMITTED: u8 = 3;
    pub const FINALIZED: u8 = 4;
    pub const SLASHED: u8 = 5;
    pub const CANCELLED: u8 = 6;

    /// The status's name.
    pub fn name(status: u8) -> &'static str {
        match status {
            OPEN => "open",
            CLAIMED => "claimed",
            SUBMITTED => "submitted",
            FINALIZED => "finalized",
            SLASHED => "slashed",
            CANCELLED => "cancelled",
            _ => "unknown",
        }
    }
}

/// The latest block: its number and timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Block number.
    pub number: u64,
    /// Unix seconds.
    pub timestamp: u64,
}

/// The market, the game and the registry of one deployment, for one provider
/// (which signs, for agents that send).
pub struct Market<P> {
    provider: P,
    market: JobMarket::JobMarketInstance<P>,
    game: DisputeGame::DisputeGameInstance<P>,
    registry: ArtifactRegistry::ArtifactRegistryInstance<P>,
    sources: BookSources,
    deployed_at: u64,
    confirmations: u64,
}

impl<P: Provider + Clone> Market<P> {
    /// The contracts of `deployment`, through `provider`.
    pub fn new(deployment: &Deployment, provider: P) -> Result<Self> {
        let sources = BookSources {
            market: deployment.address("JobMarket")?,
            game: deployment.address("DisputeGame")?,
            registry: deployment.address("ArtifactRegistry")?,
        };
        Ok(Self {
            market: JobMarket::new(sources.market, provider.clone()),
            game: DisputeGame::new(sources.game, provider.clone()),
            registry: ArtifactRegistry::new(sources.registry, provider.clone()),
            provider,
            sources,
            deployed_at: deployment.block_number,
            confirmations: 0,
        })
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The market contract.
    pub fn market(&self) -> &JobMarket::JobMarketInstance<P> {
        &self.market
    }

    /// The game contract.
    pub fn game(&self) -> &DisputeGame::DisputeGameInstance<P> {
        &self.game
    }

    /// The registry contract.
    pub fn registry(&self) -> &ArtifactRegistry::ArtifactRegistryInstance<P> {
        &self.registry
    }

    /// The contracts whose events make the job book.
    pub fn sources(&self) -> &BookSources {
        &self.sources
    }

    /// The block the deployment finished in (event scans start here).
    pub fn deployed_at(&self) -> u64 {
        self.deployed_at
    }

    /// The latest block.
    pub async fn head(&self) -> Result<Head> {
        let block = self
            .provider
            .get_block(alloy::eips::BlockNumberOrTag::Latest.into())
            .await?
            .ok_or_else(|| Error::Contract("the node has no latest block".into()))?;
        Ok(Head {
            number: block.header.number,
            timestamp: block.header.timestamp,
        })
    }

    /// Brings `book` up to the block `confirmations` below the latest (see
    /// [`Market::with_confirmations`]); returns the latest block (its
    /// timestamp is what deadlines are weighed against) and what the sync did.
    pub async fn catch_up(&self, book: &mut crate::book::JobBook) -> Result<(Head, Synced)> {
        let head = self.head().await?;
        let confirmed = head.number.saturating_sub(self.confirmations);
        let synced = book.sync(&self.provider, &self.sources, confirmed).await?;
        Ok((head, synced))
    }

    /// Has [`Market::catch_up`] read events only from blocks at least
    /// `confirmations` deep (0: up to the latest block).
    #[must_use]
    pub fn with_confirmations(mut self, confirmations: u64) -> Self {
        self.confirmations = confirmations;
        self
    }

    /// How deep a block must be before its events are read.
    pub fn confirmations(&self) -> u64 {
        self.confirmations
    }

    /// A job's on-chain record.
    pub async fn job(&self, id: u64) -> Result<JobMarket::Job> {
        self.market
            .getJob(U256::from(id))
            .call()
            .await
            .map_err(Error::from_contract)
    }

    /// A game's on-chain record, with the solver's clock as it stands now: the
    /// record is credited with one extension per game opened on the job since
    /// it was last updated (the contract adds that credit lazily; `turn` and
    /// `timeout` count it), so a duty decided from it agrees with the chain.
    pub async fn game_record(&self, id: u64) -> Result<DisputeGame::Game> {
        let mut g = self
            .game
            .getGame(U256::from(id))
            .call()
            .await
            .map_err(Error::from_contract)?;
        if g.clock.phase != crate::game::player::phase::NONE {
            let opened = self
                .game
                .gamesOpened(g.setup.jobId)
                .call()
                .await
                .map_err(Error::from_contract)?;
            let pending = opened.saturating_sub(g.clock.creditedGames);
            if pending > 0 {
                let extension = self
                    .game
                    .extension()
                    .call()
                    .await
                    .map_err(Error::from_contract)?;
                g.clock.solverClock = g
                    .clock
                    .solverClock
                    .saturating_add(extension.saturating_mul(u64::from(pending)));
                g.clock.creditedGames = opened;
            }
        }
        Ok(g)
    }

    /// What `account` can withdraw in `token` ([`crate::ETH`] for ether).
    pub async fn credits(&self, token: Address, account: Address) -> Result<U256> {
        self.market
            .credits(token, account)
            .call()
            .await
            .map_err(Error::from_contract)
    }

    /// The bond a challenger posts.
    pub async fn challenger_bond(&self) -> Result<U256> {
        self.market
            .challengerBond()
            .call()
            .await
            .map_err(Error::from_contract)
    }

    /// Whether `publisher` has announced `root` in the registry.
    pub async fn is_published_by(&self, root: B256, publisher: Address) -> Result<bool> {
        self.registry
            .isPublished(root, publisher)
            .call()
            .await
            .map_err(Error::from_contract)
    }

    /// Pays out a decided game (`JobMarket.settleGame`).
    pub async fn settle_game(&self, game_id: u64) -> Result<TransactionReceipt> {
        let call = self
            .market
            .settleGame(U256::from(game_id))
            .into_transaction_request();
        self.send(call, "settleGame").await
    }

    /// Ends a game whose side to move ran out of time (`DisputeGame.timeout`).
    pub async fn claim_timeout(&self, game_id: u64) -> Result<TransactionReceipt> {
        let call = self
            .game
            .timeout(U256::from(game_id))
            .into_transaction_request();
        self.send(call, "timeout").await
    }

    /// Fixes a job's outcome once its window has closed and every game on it
    /// is decided (`JobMarket.finalize`): the solver paid, or slashed with the
    /// refuting games' shares set.
    pub async fn finalize(&self, job_id: u64) -> Result<TransactionReceipt> {
        let call = self
            .market
            .finalize(U256::from(job_id))
            .into_transaction_request();
        self.send(call, "finalize").await
    }

    /// What decides when job `job_id`'s games are paid: its window's end, its
    /// games not yet paid out, its refutations, whether its outcome is fixed.
    pub async fn job_outcome(&self, job_id: u64) -> Result<JobOutcome> {
        let job = self.job(job_id).await?;
        Ok(JobOutcome {
            window_end: job.submittedAt.saturating_add(job.challengeWindow),
            open_games: job.openGames,
            refuted: job.refutations,
            submitted: job.status == status::SUBMITTED,
            fixed: job.status == status::FINALIZED || job.status == status::SLASHED,
        })
    }

    /// Credits a refuting game's challenger its share (`JobMarket.claimShare`).
    pub async fn claim_share(&self, game_id: u64) -> Result<TransactionReceipt> {
        let call = self
            .market
            .claimShare(U256::from(game_id))
            .into_transaction_request();
        self.send(call, "claimShare").await
    }

    /// Whether game `game_id`'s share has been claimed.
    pub async fn share_claimed(&self, game_id: u64) -> Result<bool> {
        self.market
            .shareClaimed(U256::from(game_id))
            .call()
            .await
            .map_err(Error::from_contract)
    }

    /// Winds up job games that nobody is left to end (anyone may): claims the
    /// timeout of every game whose side to move ran out of time at `now` and
    /// pays out every decided game, so that the job's outcome can be fixed.
    /// Returns how many transactions it sent.
    pub async fn wind_up(&self, games: &[u64], now: u64) -> Result<usize> {
        let mut sent = 0;
        for &id in games {
            let g = self.game_record(id).await?;
            if g.clock.phase != crate::game::player::phase::RESOLVED {
                let (_, deadline) = self.turn(id).await?;
                if deadline == 0 || now < deadline {
                    continue;
                }
                self.claim_timeout(id).await?;
                sent += 1;
            } else if g.clock.settled {
                continue;
            }
            self.settle_game(id).await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Who must move in a game and until when (`DisputeGame.turn`).
    pub async fn turn(&self, game_id: u64) -> Result<(Address, u64)> {
        let turn = self
            .game
            .turn(U256::from(game_id))
            .call()
            .await
            .map_err(Error::from_contract)?;
        Ok((turn.mover, turn.deadline))
    }

    /// Withdraws everything the market owes `account` (the provider's signer)
    /// to `account` itself, in ETH and in each of `tokens`; returns what was
    /// withdrawn per currency (only those with a credit). A currency whose
    /// withdrawal fails (a token that refuses the transfer) is reported in
    /// the log and left for the next call: it does not keep the others back.
    pub async fn withdraw_all(
        &self,
        account: Address,
        tokens: &[Address],
    ) -> Result<Vec<(Address, U256)>> {
        let mut currencies = vec![crate::ETH];
        currencies.extend(tokens.iter().copied().filter(|t| *t != crate::ETH));
        currencies.sort();
        currencies.dedup();
        let mut paid = Vec::new();
        let mut first_error = None;
        for token in currencies {
            match self.withdraw_to(token, account, account).await {
                Ok(amount) if !amount.is_zero() => paid.push((token, amount)),
                Ok(_) => {}
                Err(error) if token != crate::ETH => {
                    tracing::warn!(target: "dispute::market", %token, %error, "withdrawing a token credit failed");
                    first_error.get_or_insert(error);
                }
                Err(error) => return Err(error),
            }
        }
        match (paid.is_empty(), first_error) {
            (true, Some(error)) => Err(error),
            _ => Ok(paid),
        }
    }

    /// Withdraws everything the market owes `account` (the provider's signer)
    /// in `token` to `to` (an account that can receive it); returns the
    /// amount, zero when there was nothing (and nothing was sent).
    pub async fn withdraw_to(&self, token: Address, account: Address, to: Address) -> Result<U256> {
        let credits = self.credits(token, account).await?;
        if !credits.is_zero() {
            let call = self.market.withdraw(token, to).into_transaction_request();
            self.send(call, "withdraw").await?;
        }
        Ok(credits)
    }

    /// Simulates `call`, then sends it with a 25% gas margin and waits for its
    /// receipt. A simulated revert is [`Error::Revert`] with its decoded reason
    /// (nothing was sent); a mined revert is [`Error::Reverted`].
    pub async fn send(&self, call: TransactionRequest, label: &str) -> Result<TransactionReceipt> {
        crate::sender::send_simulated(&self.provider, call, label).await
    }
}
