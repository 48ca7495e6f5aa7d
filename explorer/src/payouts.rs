//! What a game paid, and to whom, as it happened: the market's `Credited`
//! events of the game's settlement (`GameSettled`: the bond to the winner,
//! the burned share) and its share of a slashed solver bond
//! (`ShareClaimed`), each with its transaction.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use serde::{Deserialize, Serialize};
use vtrain_dispute::bindings::JobMarket;

use crate::chain::Chain;
use crate::view::{Amount, Currencies};

/// One credit a game caused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    /// `settlement` (the game's bond) or `share` (of the slashed solver bond).
    pub kind: String,
    /// Who was credited.
    pub to: Address,
    /// `solver`, `challenger` or `burned` (the market's burn address).
    pub role: String,
    /// How much, in the credited currency.
    pub amount: Amount,
    /// The transaction that credited it.
    pub tx: B256,
}

/// The parties of a game, to name who was paid.
#[derive(Clone, Copy, Debug)]
pub struct Parties {
    /// The job's solver.
    pub solver: Address,
    /// The game's challenger.
    pub challenger: Address,
    /// The market's burn address.
    pub burn: Address,
}

impl Parties {
    fn role(&self, account: Address) -> &'static str {
        if account == self.burn {
            "burned"
        } else if account == self.solver {
            "solver"
        } else if account == self.challenger {
            "challenger"
        } else {
            "other"
        }
    }
}

/// The `Credited` events that follow the `GameSettled` event at
/// `settled_index` in `logs` (one transaction's, in order), up to the next
/// event that is not a credit: a transaction that settles several games
/// (through a contract) credits each game's parties right after its event.
pub fn credits_after(
    logs: &[Log],
    market: Address,
    settled_index: usize,
) -> Vec<(Address, Address, U256)> {
    logs.iter()
        .skip(settled_index + 1)
        .take_while(|log| {
            log.address() == market && log.topic0() == Some(&JobMarket::Credited::SIGNATURE_HASH)
        })
        .filter_map(|log| JobMarket::Credited::decode_log(&log.inner).ok())
        .map(|e| (e.data.token, e.data.account, e.data.amount))
        .collect()
}

/// Every payout of game `id` (of a job paid in `token`), from its events
/// since `from_block`.
pub async fn payouts(
    chain: &Chain,
    id: u64,
    parties: Parties,
    token: Address,
    currencies: &Currencies,
    from_block: u64,
) -> vtrain_dispute::Result<Vec<Payout>> {
    let market = *chain.market.market().address();
    let game_topic = B256::from(U256::from(id));
    let query = |signature: B256| {
        Filter::new()
            .address(market)
            .event_signature(signature)
            .topic2(game_topic)
            .from_block(from_block)
    };
    let provider = chain.market.provider();
    let mut out = Vec::new();
    let settled = provider
        .get_logs(&query(JobMarket::GameSettled::SIGNATURE_HASH))
        .await
        .map_err(vtrain_dispute::Error::Rpc)?;
    for log in settled {
        let Some(tx) = log.transaction_hash else {
            continue;
        };
        let logs = chain.logs_of(tx).await?;
        let Some(index) = logs
            .iter()
            .position(|l| l.log_index == log.log_index && l.address() == market)
        else {
            continue;
        };
        for (currency, account, amount) in credits_after(&logs, market, index) {
            out.push(Payout {
                kind: "settlement".into(),
                to: account,
                role: parties.role(account).into(),
                amount: Amount::of(amount, currency, currencies),
                tx,
            });
        }
    }
    let shares = provider
        .get_logs(&query(JobMarket::ShareClaimed::SIGNATURE_HASH))
        .await
        .map_err(vtrain_dispute::Error::Rpc)?;
    for log in shares {
        let (Ok(event), Some(tx)) = (
            JobMarket::ShareClaimed::decode_log(&log.inner),
            log.transaction_hash,
        ) else {
            continue;
        };
        out.push(Payout {
            kind: "share".into(),
            to: event.data.challenger,
            role: parties.role(event.data.challenger).into(),
            amount: Amount::of(event.data.share, token, currencies),
            tx,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Bytes, LogData};

    const MARKET: Address = Address::repeat_byte(0x10);

    fn log(address: Address, data: LogData) -> Log {
        Log {
            inner: alloy::primitives::Log { address, data },
            ..Log::default()
        }
    }

    fn credited(token: Address, account: Address, amount: u64) -> Log {
        let event = JobMarket::Credited {
            token,
            account,
            amount: U256::from(amount),
        };
        log(MARKET, event.encode_log_data())
    }

    fn settled(game: u64) -> Log {
        let event = JobMarket::GameSettled {
            jobId: U256::from(1),
            gameId: U256::from(game),
            solverWon: true,
        };
        log(MARKET, event.encode_log_data())
    }

    #[test]
    fn a_settlement_owns_the_credits_right_after_it() {
        let (solver, burn) = (Address::repeat_byte(0x01), Address::repeat_byte(0xde));
        let eth = Address::ZERO;
        let logs = vec![
            settled(1),
            credited(eth, solver, 50),
            credited(eth, burn, 50),
            settled(2),
            credited(eth, solver, 7),
            // a credit by another contract is not the market's
            log(
                Address::repeat_byte(0x99),
                credited(eth, solver, 1).inner.data,
            ),
        ];
        assert_eq!(
            credits_after(&logs, MARKET, 0),
            vec![(eth, solver, U256::from(50)), (eth, burn, U256::from(50))]
        );
        assert_eq!(
            credits_after(&logs, MARKET, 3),
            vec![(eth, solver, U256::from(7))]
        );
        let none = vec![
            settled(1),
            log(MARKET, LogData::new_unchecked(vec![], Bytes::new())),
        ];
        assert!(credits_after(&none, MARKET, 0).is_empty());
    }
}
