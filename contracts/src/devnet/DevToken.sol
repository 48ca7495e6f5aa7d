// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title DevToken
/// @notice A test stablecoin for local devnets only: 6 decimals, like USDC, and anyone may
///         mint any amount. `vtrain-deploy devnet` deploys it and funds the dev accounts, so
///         that ERC-20 jobs (`JobMarket.postTokenJob`) can be tried without a real token.
///         It has no value: never deploy it where real money is.
contract DevToken is ERC20 {
    constructor() ERC20("vtrain dev USD", "vUSD") {}

    /// @notice 6, as USDC: a reward of 1 vUSD is 1_000_000 units.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` units to `to` (anyone may: this is a test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
