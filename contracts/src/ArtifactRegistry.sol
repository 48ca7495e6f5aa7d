// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ArtifactRegistry
/// @notice Announces where a content-addressed artifact (a dataset, a checkpoint, a
///         model) can be fetched. The root is the artifact's content root; readers
///         check every byte they fetch against it, so a location is only a hint and
///         a wrong one costs nothing but a failed fetch.
/// @dev    Every publisher may announce each root once. Announcements are per
///         publisher so that nobody can block a root by announcing a junk location
///         for it first: readers try every location, and may prefer a publisher
///         they know (the job's submitter, its solver).
contract ArtifactRegistry {
    struct Artifact {
        address publisher;
        uint64 size;
        uint64 publishedAt;
    }

    /// @notice Each publisher's announcement of each content root, zero when none.
    mapping(bytes32 root => mapping(address publisher => Artifact artifact)) public artifacts;

    /// @notice The number of announcements so far.
    uint256 public artifactCount;

    /// @notice A content root was announced.
    event ArtifactPublished(bytes32 indexed root, address indexed publisher, uint64 size, string uri);

    /// @notice The zero hash is never a valid content root.
    error ZeroRoot();
    /// @notice An empty artifact has nothing to fetch.
    error ZeroSize();
    /// @notice An announcement must say where to fetch the artifact.
    error EmptyUri();
    /// @notice `publisher` has already announced the root.
    error AlreadyPublished(bytes32 root, address publisher);

    /// @notice Announces that the artifact with content root `root` and `size` bytes
    ///         can be fetched from `uri`.
    function publish(bytes32 root, uint64 size, string calldata uri) external {
        if (root == bytes32(0)) revert ZeroRoot();
        if (size == 0) revert ZeroSize();
        if (bytes(uri).length == 0) revert EmptyUri();
        Artifact storage existing = artifacts[root][msg.sender];
        if (existing.publisher != address(0)) revert AlreadyPublished(root, msg.sender);

        artifacts[root][msg.sender] =
            Artifact({publisher: msg.sender, size: size, publishedAt: uint64(block.timestamp)});
        artifactCount += 1;
        emit ArtifactPublished(root, msg.sender, size, uri);
    }

    /// @notice Whether `publisher` has announced `root`.
    function isPublished(bytes32 root, address publisher) external view returns (bool) {
        return artifacts[root][publisher].publisher != address(0);
    }
}
