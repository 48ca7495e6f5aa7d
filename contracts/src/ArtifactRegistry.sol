// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ArtifactRegistry
/// @notice Announces where a content-addressed artifact (a dataset, a checkpoint, a
///         model) can be fetched. The root is the artifact's content root; readers
///         check every byte they fetch against it, so a location is only a hint and
///         a wrong one costs nothing but a failed fetch.
/// @dev    A root is announced once; its first publisher and size are immutable.
contract ArtifactRegistry {
    struct Artifact {
        address publisher;
        uint64 size;
        uint64 publishedAt;
    }

    /// @notice The announcement of each content root, zero when never published.
    mapping(bytes32 root => Artifact artifact) public artifacts;

    /// @notice The number of artifacts announced so far.
    uint256 public artifactCount;

    /// @notice A content root was announced.
    event ArtifactPublished(bytes32 indexed root, address indexed publisher, uint64 size, string uri);

    /// @notice The zero hash is never a valid content root.
    error ZeroRoot();
    /// @notice An empty artifact has nothing to fetch.
    error ZeroSize();
    /// @notice An announcement must say where to fetch the artifact.
    error EmptyUri();
    /// @notice The root was already announced by `publisher`.
    error AlreadyPublished(bytes32 root, address publisher);

    /// @notice Announces that the artifact with content root `root` and `size` bytes
    ///         can be fetched from `uri`.
    function publish(bytes32 root, uint64 size, string calldata uri) external {
        if (root == bytes32(0)) revert ZeroRoot();
        if (size == 0) revert ZeroSize();
        if (bytes(uri).length == 0) revert EmptyUri();
        Artifact storage existing = artifacts[root];
        if (existing.publisher != address(0)) revert AlreadyPublished(root, existing.publisher);

        artifacts[root] = Artifact({publisher: msg.sender, size: size, publishedAt: uint64(block.timestamp)});
        artifactCount += 1;
        emit ArtifactPublished(root, msg.sender, size, uri);
    }

    /// @notice Whether `root` has been announced.
    function isPublished(bytes32 root) external view returns (bool) {
        return artifacts[root].publisher != address(0);
    }
}
