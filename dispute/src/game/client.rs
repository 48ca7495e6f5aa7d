//! Sends moves: one transaction per move through the generated bindings, and
//! reads back what the game needs (its record, the solver's reveals).

use alloy::primitives::{Address, Bytes, U256, keccak256};
use alloy::providers::Provider;

use super::player::{Move, Revealed};
use crate::bindings::GraphSemantics;
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

    /// Makes sure the job's spec has a model image in the game's semantics
    /// (`GraphSemantics.compile`, `docs/dispute-game.md` § Model images), so
    /// that the solver's moves that pass the spec, the one-step proof above
    /// all, read the decoded model back instead of decoding it again. Once per
    /// spec and semantics: returns the gas it spent, 0 when the image was
    /// already there. A spec whose image would exceed the code-size limit is
    /// refused in simulation, before anything is sent ([`Error::Revert`]); its
    /// moves still work, decoding the spec each time.
    pub async fn compile_model(&self) -> Result<u64> {
        let semantics = self
            .game
            .semantics()
            .call()
            .await
            .map_err(Error::from_contract)?;
        let semantics = GraphSemantics::new(semantics, self.game.provider());
        let image = semantics
            .imageOf(keccak256(&self.spec))
            .call()
            .await
            .map_err(Error::from_contract)?;
        if image != Address::ZERO {
            return Ok(0);
        }
        let call = semantics
            .compile(self.spec.clone())
            .into_transaction_request();
        let receipt = crate::sender::send_simulated(self.game.provider(), call, "compile").await?;
        Ok(receipt.gas_used)
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
