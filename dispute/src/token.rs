//! The currencies a job is paid in: ETH, or an ERC-20 token
//! (`JobMarket.postTokenJob`). What the agents and the CLI need of a token:
//! its symbol and decimals to read and write amounts, the caller's balance
//! and allowance to check before anything is sent, and `approve`.
//!
//! Tokens are untrusted contracts: a call that fails or answers nonsense is an
//! error here, never a panic, and a symbol is cleaned before it is shown.

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;

use crate::error::{Error, Result};

alloy::sol! {
    /// The ERC-20 functions vtrain calls (with EIP-20's optional metadata).
    #[sol(rpc)]
    #[allow(missing_docs)]
    interface IERC20Metadata {
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function balanceOf(address account) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
        function approve(address spender, uint256 amount) external returns (bool);
    }
}

/// `address(0)`: ETH in `JobMarket.credits`, `withdraw` and a job's `token`.
pub const ETH: Address = Address::ZERO;

/// The most decimals vtrain reads amounts with (ETH has 18; real tokens up
/// to 24). More would make every amount a string of zeros, and is refused.
pub const MAX_DECIMALS: u8 = 36;

/// A job's currency as a person reads it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Currency {
    /// `ETH` ([`ETH`]) or the token's address.
    pub address: Address,
    /// `ETH`, or the token's symbol (cleaned: at most 16 printable ASCII
    /// characters; `?` when it has none).
    pub symbol: String,
    /// 18 for ETH, or the token's `decimals()`.
    pub decimals: u8,
}

impl Currency {
    /// ETH.
    pub fn eth() -> Self {
        Self {
            address: ETH,
            symbol: "ETH".into(),
            decimals: 18,
        }
    }

    /// Whether this is ETH.
    pub fn is_eth(&self) -> bool {
        self.address == ETH
    }

    /// `amount` (in the smallest unit) as a decimal with its symbol:
    /// `1.5 ETH`, `250 vUSD`.
    pub fn format(&self, amount: U256) -> String {
        format!("{} {}", format_units(amount, self.decimals), self.symbol)
    }

    /// Reads `address`'s symbol and decimals ([`Currency::eth`] for zero).
    /// Fails when it is not a contract or does not answer `decimals()`.
    pub async fn read<P: Provider>(provider: &P, address: Address) -> Result<Self> {
        if address == ETH {
            return Ok(Self::eth());
        }
        let code = provider
            .get_code_at(address)
            .await
            .map_err(|e| Error::Contract(format!("reading the code at {address}: {e}")))?;
        if code.is_empty() {
            return Err(Error::Contract(format!(
                "{address} is not a token: no contract there"
            )));
        }
        let token = IERC20Metadata::new(address, provider);
        let decimals = token.decimals().call().await.map_err(|e| {
            Error::Contract(format!(
                "{address} is not an ERC-20 token: decimals() failed: {e}"
            ))
        })?;
        if decimals > MAX_DECIMALS {
            return Err(Error::Contract(format!(
                "{address} has {decimals} decimals; vtrain reads at most {MAX_DECIMALS}"
            )));
        }
        // The symbol is optional in EIP-20 and some tokens return bytes32.
        let symbol = token
            .symbol()
            .call()
            .await
            .map(|s| clean_symbol(&s))
            .unwrap_or_else(|_| "?".into());
        Ok(Self {
            address,
            symbol,
            decimals,
        })
    }

    /// [`Currency::read`], or, for a token that cannot be read, its raw
    /// units: symbol `?`, no decimals (for views, which must show something).
    pub async fn read_or_raw<P: Provider>(provider: &P, address: Address) -> Self {
        match Self::read(provider, address).await {
            Ok(currency) => currency,
            Err(error) => {
                tracing::debug!(target: "dispute::token", %address, %error, "unreadable token");
                Self {
                    address,
                    symbol: "?".into(),
                    decimals: 0,
                }
            }
        }
    }

    /// `account`'s balance in this currency.
    pub async fn balance_of<P: Provider>(&self, provider: &P, account: Address) -> Result<U256> {
        if self.is_eth() {
            return provider
                .get_balance(account)
                .await
                .map_err(|e| Error::Contract(format!("reading the balance of {account}: {e}")));
        }
        IERC20Metadata::new(self.address, provider)
            .balanceOf(account)
            .call()
            .await
            .map_err(|e| Error::Contract(format!("{}: balanceOf failed: {e}", self.symbol)))
    }

    /// What `spender` may still pull from `owner` (unlimited for ETH, which
    /// is sent as value).
    pub async fn allowance<P: Provider>(
        &self,
        provider: &P,
        owner: Address,
        spender: Address,
    ) -> Result<U256> {
        if self.is_eth() {
            return Ok(U256::MAX);
        }
        IERC20Metadata::new(self.address, provider)
            .allowance(owner, spender)
            .call()
            .await
            .map_err(|e| Error::Contract(format!("{}: allowance failed: {e}", self.symbol)))
    }

    /// The `approve` transactions that let `spender` pull `amount` from
    /// `owner`: none when the allowance already covers it; `approve(amount)`;
    /// or, when a smaller allowance is left, `approve(0)` first, as tokens
    /// such as USDT refuse to change one non-zero allowance into another.
    pub async fn approvals<P: Provider>(
        &self,
        provider: &P,
        owner: Address,
        spender: Address,
        amount: U256,
    ) -> Result<Vec<alloy::rpc::types::TransactionRequest>> {
        let allowance = self.allowance(provider, owner, spender).await?;
        if allowance >= amount {
            return Ok(Vec::new());
        }
        let token = IERC20Metadata::new(self.address, provider);
        let approve = |value: U256| {
            token
                .approve(spender, value)
                .into_transaction_request()
                .from(owner)
        };
        Ok(if allowance.is_zero() {
            vec![approve(amount)]
        } else {
            vec![approve(U256::ZERO), approve(amount)]
        })
    }

    /// Makes sure `spender` may pull `amount` from the provider's signer
    /// `owner`: sends [`Currency::approvals`] (each simulated first). Returns
    /// how many it sent.
    pub async fn ensure_allowance<P: Provider>(
        &self,
        provider: &P,
        owner: Address,
        spender: Address,
        amount: U256,
    ) -> Result<usize> {
        let calls = self.approvals(provider, owner, spender, amount).await?;
        let count = calls.len();
        for call in calls {
            crate::sender::send_simulated(provider, call, &format!("{}.approve", self.symbol))
                .await?;
        }
        Ok(count)
    }
}

/// At most 16 printable ASCII characters of a token's self-declared symbol:
/// it is shown in terminals and web pages and must not carry control
/// characters or markup.
fn clean_symbol(symbol: &str) -> String {
    let cleaned: String = symbol
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '$'))
        .take(16)
        .collect();
    if cleaned.is_empty() {
        "?".into()
    } else {
        cleaned
    }
}

/// `amount` smallest units as a decimal with `decimals` places, trailing
/// zeros dropped: `format_units(1_500_000, 6)` is `1.5`.
pub fn format_units(amount: U256, decimals: u8) -> String {
    let text = amount.to_string();
    let places = usize::from(decimals);
    if places == 0 {
        return text;
    }
    let padded = format!("{text:0>width$}", width = places + 1);
    let (whole, fraction) = padded.split_at(padded.len() - places);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        whole.to_owned()
    } else {
        format!("{whole}.{fraction}")
    }
}

/// A non-negative decimal such as `250` or `0.5` in a currency with
/// `decimals` places, as smallest units. Refuses signs, exponents, more
/// places than the currency has, and amounts past 2^256.
pub fn parse_units(text: &str, decimals: u8) -> std::result::Result<U256, String> {
    let text = text.trim();
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.chars().filter(|&c| c == '.').count() <= 1
        && text.chars().any(|c| c.is_ascii_digit());
    if !plain {
        return Err(format!(
            "{text:?} is not an amount: write a non-negative decimal such as 0.5"
        ));
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > usize::from(decimals) {
        return Err(format!(
            "{text:?} has more than the currency's {decimals} decimal places"
        ));
    }
    let digits = format!("{whole}{fraction:0<width$}", width = usize::from(decimals));
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(digits, 10).map_err(|_| format!("{text:?} is too large an amount"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip_through_their_decimals() {
        assert_eq!(parse_units("250", 6), Ok(U256::from(250_000_000u64)));
        assert_eq!(parse_units("0.5", 6), Ok(U256::from(500_000u64)));
        assert_eq!(parse_units(".5", 6), Ok(U256::from(500_000u64)));
        assert_eq!(
            parse_units("1.", 18),
            Ok(U256::from(10u64).pow(U256::from(18)))
        );
        assert_eq!(parse_units("0", 6), Ok(U256::ZERO));
        assert_eq!(parse_units("7", 0), Ok(U256::from(7u64)));
        assert_eq!(format_units(U256::from(1_500_000u64), 6), "1.5");
        assert_eq!(format_units(U256::from(250_000_000u64), 6), "250");
        assert_eq!(format_units(U256::from(5u64), 6), "0.000005");
        assert_eq!(format_units(U256::ZERO, 18), "0");
        assert_eq!(format_units(U256::from(42u64), 0), "42");
        for (amount, decimals) in [(123_456_789u64, 6u8), (1, 18), (10, 1), (999, 3)] {
            let text = format_units(U256::from(amount), decimals);
            assert_eq!(
                parse_units(&text, decimals),
                Ok(U256::from(amount)),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_amounts_are_refused_with_a_reason() {
        for bad in ["-1", "", ".", "1e6", "0x10", "1.2.3", " - 5", "1,5", "NaN"] {
            assert!(parse_units(bad, 6).is_err(), "{bad:?} accepted");
        }
        let err = parse_units("0.0000001", 6).unwrap_err();
        assert!(err.contains("6 decimal places"), "{err}");
        let huge = "9".repeat(80);
        assert!(parse_units(&huge, 0).unwrap_err().contains("too large"));
    }

    #[test]
    fn symbols_are_cleaned_before_they_are_shown() {
        assert_eq!(clean_symbol("vUSD"), "vUSD");
        assert_eq!(clean_symbol("<script>x</script>"), "scriptxscript");
        assert_eq!(clean_symbol("\u{1b}[31mRED"), "31mRED");
        assert_eq!(clean_symbol(""), "?");
        assert_eq!(clean_symbol(&"A".repeat(40)).len(), 16);
        assert_eq!(
            Currency::eth().format(U256::from(10u64).pow(U256::from(17))),
            "0.1 ETH"
        );
    }
}
