// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IssuerRegistry} from "./IssuerRegistry.sol";

/// @title Certificate ledger of a CertLedger deployment
/// @notice Batches of certificate digests are anchored as Merkle roots (sorted-pair keccak256, as
/// OpenAttestation); a certificate is effective when its digest proves into a root anchored by an
/// authorised issuer and no event changed it. Lifecycle events are stored per digest and emitted
/// with the block of the certificate's previous event, so its history can be walked from logs.
contract CertificateLedger {
    enum Status { None, Effective, Lost, Revoked, Superseded }
    enum Kind { Issue, ReportLoss, Revoke, AnnualReview, Change }

    struct Root {
        address issuer;     // slot 1: 20 bytes
        uint32 count;       //         4 bytes
        uint64 blockNumber; //         8 bytes
        bytes32 typeCode;   // slot 2
    }

    struct Cert {
        Status status;        // slot 1
        address issuer;
        uint64 lastBlock;
        uint64 nextReviewDue; // slot 2 (unix seconds, 0 when none)
        bytes32 root;         // slot 3
        bytes32 supersededBy; // slot 4
    }

    struct EventInput {
        bytes32 digest;
        bytes32 root;          // needed with the proof for a certificate's first event only
        bytes32[] proof;
        Kind kind;
        uint64 nextReviewDue;  // AnnualReview
        bytes32 newDigest;     // Change
        bytes32 reason;        // keccak256 of the reason text, kept off chain
    }

    IssuerRegistry public immutable registry;
    mapping(bytes32 => Root) private _roots;
    mapping(bytes32 => Cert) private _certs;

    error NotAuthorisedIssuer(address account, bytes32 typeCode);
    error EmptyBatch();
    error RootAlreadyAnchored(bytes32 root);
    error UnknownRoot(bytes32 root);
    error NotInBatch(bytes32 digest, bytes32 root);
    error NotTheIssuer(address account, bytes32 digest);
    error FinalStatus(bytes32 digest, Status status);
    error NotAllowed(bytes32 digest, Status status, Kind kind);
    error MissingValue(bytes32 digest, Kind kind);

    event BatchAnchored(bytes32 indexed root, address indexed issuer, bytes32 indexed typeCode, uint32 count);
    event CertificateEvent(
        bytes32 indexed digest,
        Kind indexed kind,
        address indexed actor,
        uint64 prevBlock,
        uint64 nextReviewDue,
        bytes32 newDigest,
        bytes32 reason
    );

    constructor(IssuerRegistry registry_) {
        registry = registry_;
    }

    /// @notice Anchor the Merkle root of a batch of certificate digests of one type.
    function anchorBatch(bytes32 root, bytes32 typeCode, uint32 count) external {
        if (count == 0) revert EmptyBatch();
        if (!registry.isAuthorised(msg.sender, typeCode)) revert NotAuthorisedIssuer(msg.sender, typeCode);
        if (_roots[root].issuer != address(0)) revert RootAlreadyAnchored(root);
        _roots[root] = Root(msg.sender, count, uint64(block.number), typeCode);
        emit BatchAnchored(root, msg.sender, typeCode, count);
    }

    function recordEvent(EventInput calldata e) external {
        _record(e, registry.isAdmin(msg.sender));
    }

    /// @notice Several events in one transaction: all are recorded, or the transaction reverts.
    function recordEvents(EventInput[] calldata events) external {
        bool admin = registry.isAdmin(msg.sender);
        for (uint256 i = 0; i < events.length; i++) {
            _record(events[i], admin);
        }
    }

    function _record(EventInput calldata e, bool admin) private {
        Cert storage c = _certs[e.digest];
        if (c.status == Status.None) {
            // first event of this certificate: prove it belongs to an anchored batch
            Root storage r = _roots[e.root];
            if (r.issuer == address(0)) revert UnknownRoot(e.root);
            if (!MerkleProof.verifyCalldata(e.proof, e.root, e.digest)) revert NotInBatch(e.digest, e.root);
            c.status = Status.Effective;
            c.issuer = r.issuer;
            c.root = e.root;
            c.lastBlock = r.blockNumber;
        }
        if (msg.sender != c.issuer && !admin) revert NotTheIssuer(msg.sender, e.digest);
        if (!admin && !registry.isActive(msg.sender)) revert NotTheIssuer(msg.sender, e.digest);
        Status s = c.status;
        if (s == Status.Revoked || s == Status.Superseded) revert FinalStatus(e.digest, s);
        if (e.kind == Kind.ReportLoss) {
            if (s != Status.Effective) revert NotAllowed(e.digest, s, e.kind);
            c.status = Status.Lost;
        } else if (e.kind == Kind.Revoke) {
            c.status = Status.Revoked;
        } else if (e.kind == Kind.AnnualReview) {
            if (s != Status.Effective) revert NotAllowed(e.digest, s, e.kind);
            if (e.nextReviewDue == 0) revert MissingValue(e.digest, e.kind);
            c.nextReviewDue = e.nextReviewDue;
        } else if (e.kind == Kind.Change) {
            if (e.newDigest == bytes32(0)) revert MissingValue(e.digest, e.kind);
            c.status = Status.Superseded;
            c.supersededBy = e.newDigest;
        } else {
            revert NotAllowed(e.digest, s, e.kind); // issue events are batch anchors
        }
        uint64 prev = c.lastBlock;
        c.lastBlock = uint64(block.number);
        emit CertificateEvent(e.digest, e.kind, msg.sender, prev, e.nextReviewDue, e.newDigest, e.reason);
    }

    // --- views ---

    function rootInfo(bytes32 root)
        external
        view
        returns (address issuer, bytes32 typeCode, uint32 count, uint64 blockNumber)
    {
        Root storage r = _roots[root];
        return (r.issuer, r.typeCode, r.count, r.blockNumber);
    }

    /// @notice The status of a certificate from the ledger alone: Effective for an anchored digest
    /// without events (given its proof), else the status its last event left.
    function statusOf(bytes32 digest, bytes32 root, bytes32[] calldata proof)
        external
        view
        returns (Status status, address issuer, uint64 lastBlock, uint64 nextReviewDue, bytes32 supersededBy)
    {
        Cert storage c = _certs[digest];
        if (c.status != Status.None) return (c.status, c.issuer, c.lastBlock, c.nextReviewDue, c.supersededBy);
        Root storage r = _roots[root];
        if (r.issuer == address(0) || !MerkleProof.verifyCalldata(proof, root, digest)) {
            return (Status.None, address(0), 0, 0, bytes32(0));
        }
        return (Status.Effective, r.issuer, r.blockNumber, 0, bytes32(0));
    }

    /// @notice True when the proof leads from the digest to a root anchored by an authorised issuer.
    function verifyInclusion(bytes32 digest, bytes32 root, bytes32[] calldata proof) external view returns (bool) {
        Root storage r = _roots[root];
        return r.issuer != address(0) && MerkleProof.verifyCalldata(proof, root, digest);
    }
}
