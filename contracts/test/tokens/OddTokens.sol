// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice A minimal ERC-20 whose `transfer` and `transferFrom` behaviour the tests pick:
///         what real tokens do that the market must survive.
abstract contract OddToken {
    string public constant name = "odd";
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
        totalSupply += amount;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function _move(address from, address to, uint256 amount) internal virtual {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }

    function _spend(address from, uint256 amount) internal {
        require(allowance[from][msg.sender] >= amount, "allowance");
        allowance[from][msg.sender] -= amount;
    }
}

/// @notice Returns nothing from `transfer`/`transferFrom`, as USDT does on mainnet; a plain
///         `IERC20` call would fail to decode its empty return data.
contract NoBoolToken is OddToken {
    function transfer(address to, uint256 amount) external {
        _move(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external {
        _spend(from, amount);
        _move(from, to, amount);
    }
}

/// @notice Returns false instead of reverting when a transfer cannot be made (as some older
///         tokens do), and true when it moved the tokens.
contract FalseToken is OddToken {
    function transfer(address to, uint256 amount) external returns (bool) {
        if (balanceOf[msg.sender] < amount) return false;
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        if (balanceOf[from] < amount || allowance[from][msg.sender] < amount) return false;
        _spend(from, amount);
        _move(from, to, amount);
        return true;
    }
}

/// @notice Takes 1% of every transfer while its fee is on (a fee-on-transfer token; some, as
///         USDT, can switch a fee on later): the receiver gets less than was sent.
contract FeeToken is OddToken {
    bool public feeOn = true;

    function setFee(bool on) external {
        feeOn = on;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        _spend(from, amount);
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) internal override {
        uint256 fee = feeOn ? amount / 100 : 0;
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount - fee;
        totalSupply -= fee;
    }
}

/// @notice Returns true but moves nothing (a broken or malicious token).
contract LyingToken is OddToken {
    function transfer(address, uint256) external pure returns (bool) {
        return true;
    }

    function transferFrom(address, address, uint256) external pure returns (bool) {
        return true;
    }
}

interface IMarketPayouts {
    function withdraw(address token, address to) external;
}

/// @notice Calls back into the market from inside `transfer` (as a token with hooks, such as
///         an ERC-777, can): the nested `withdraw` must find nothing to pay twice.
contract ReenteringToken is OddToken {
    IMarketPayouts public market;
    uint256 public reentries;
    bool public reentryFailed;

    function aim(IMarketPayouts market_) external {
        market = market_;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        if (address(market) != address(0) && msg.sender == address(market)) {
            ++reentries;
            try market.withdraw(address(this), to) {}
            catch {
                reentryFailed = true;
            }
        }
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        _spend(from, amount);
        _move(from, to, amount);
        return true;
    }
}
