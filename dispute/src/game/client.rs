//! Sends moves: one transaction per move through the generated bindings, and
//! reads back what the game needs (its record, the solver's reveals).

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;

use super::player::{Move, Revealed};
use crate::bindings::dispute_game::DisputeGame;
use crate::error::{Error, Result};

/// A handle on the game contract for one signer.
pub struct GameClient<P> {
    game: DisputeGame::DisputeGameInstance<P>,
    spec: Bytes,
}

impl<P: Provider + Clone> GameClient<P> {
    /// The game at `address`, for the job whose canonical spec is `spec`.
    pub fn new(address: Address, provider: P, spec: Vec<u8>) -> Self {
        Self {
            game: DisputeGame::new(address, provider),
            spec: spec.into(),
        }
    }

    /// A game's on-chain record.
    pub async fn game(&self, game_id: U256) -> Result<DisputeGame::Game> {
        self.game
            .getGame(game_id)
            .call()
            .await
            .map_err(Error::from_contract)
    }

    /// What the solver has revealed so far in a game: the latest step roots and
    /// the latest leaf, searched from `from_block` (the block the game opened in).
    pub async fn revealed(&self, game_id: U256, from_block: u64) -> Result<Revealed> {
        let mut revealed = Revealed::default();
        let steps = self
            .game
            .StepRevealed_filter()
            .topic1(game_id)
            .from_block(from_block)
            .query()
            .await
            .map_err(Error::from_contract)?;
        if let Some((event, _)) = steps.last() {
            revealed.roots = event.roots;
            revealed.counts = event.counts;
        }
        let leaves = self
            .game
            .LeafRevealed_filter()
            .topic1(game_id)
            .from_block(from_block)
            .query()
            .await
            .map_err(Error::from_contract)?;
        if let Some((event, _)) = leaves.last() {
            revealed.leaf = event.values.to_vec();
        }
        Ok(revealed)
    }

    /// Sends `mv` in game `game_id` and waits for its receipt; returns the gas used.
    pub async fn send(&self, game_id: U256, mv: Move) -> Result<u64> {
        let spec = self.spec.clone();
        let g = &self.game;
        let name = mv.name();
        let call = match mv {
            Move::Bisect { step, root } => g.bisect(game_id, step, root).into_transaction_request(),
            Move::Judge { step, agree } => g.judge(game_id, step, agree).into_transaction_request(),
            Move::RevealStep { roots } => g
                .revealStep(game_id, spec, roots)
                .into_transaction_request(),
            Move::ChooseList { list, step } => {
                g.chooseList(game_id, list, step).into_transaction_request()
            }
            Move::Reveal {
                depth,
                index,
                left,
                right,
            } => g
                .reveal(game_id, depth, index, left, right)
                .into_transaction_request(),
            Move::Pick {
                depth,
                index,
                right,
            } => g
                .pick(game_id, depth, index, right)
                .into_transaction_request(),
            Move::OpenTensor { merkle } => g
                .openTensor(game_id, spec, merkle)
                .into_transaction_request(),
            Move::RevealLeaf { values } => g.revealLeaf(game_id, values).into_transaction_request(),
            Move::NameElement { element } => {
                g.nameElement(game_id, element).into_transaction_request()
            }
            Move::CommitMicro { leaf, merkle } => g
                .commitMicroTrace(game_id, spec, leaf, merkle)
                .into_transaction_request(),
            Move::ChooseMicro { last_step } => {
                g.chooseMicro(game_id, last_step).into_transaction_request()
            }
            Move::NameMicroStep { micro_step } => g
                .nameMicroStep(game_id, micro_step)
                .into_transaction_request(),
            Move::ProveStep { proof } => g
                .proveStep(game_id, spec, *proof)
                .into_transaction_request(),
        };
        let receipt = crate::sender::send_simulated(g.provider(), call, name).await?;
        Ok(receipt.gas_used)
    }
}
