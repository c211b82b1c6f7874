// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Issuer registry of a CertLedger deployment
/// @notice Which department accounts may anchor certificates, and of which certificate types.
/// Governed by admins (DEFAULT_ADMIN_ROLE); registrars (REGISTRAR_ROLE) keep the list.
/// Type codes are keccak256 of the GB/T 36904 type code string.
contract IssuerRegistry is AccessControl {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    struct Issuer {
        bool registered;
        bool active;
        string name;
    }

    mapping(address => Issuer) private _issuers;
    mapping(address => mapping(bytes32 => bool)) private _typeCodes;

    error UnknownIssuer(address account);
    error ZeroAddress();

    event IssuerRegistered(address indexed account, string name);
    event IssuerSuspended(address indexed account);
    event IssuerReactivated(address indexed account);
    event TypeCodeSet(address indexed account, bytes32 indexed typeCode, bool allowed);

    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    /// @notice Register a department's account (or re-activate it) with the type codes it may issue.
    function registerIssuer(address account, string calldata name, bytes32[] calldata typeCodes)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (account == address(0)) revert ZeroAddress();
        Issuer storage i = _issuers[account];
        bool wasSuspended = i.registered && !i.active;
        i.registered = true;
        i.active = true;
        i.name = name;
        for (uint256 k = 0; k < typeCodes.length; k++) {
            _typeCodes[account][typeCodes[k]] = true;
            emit TypeCodeSet(account, typeCodes[k], true);
        }
        if (wasSuspended) emit IssuerReactivated(account);
        else emit IssuerRegistered(account, name);
    }

    function setTypeCode(address account, bytes32 typeCode, bool allowed) external onlyRole(REGISTRAR_ROLE) {
        if (!_issuers[account].registered) revert UnknownIssuer(account);
        _typeCodes[account][typeCode] = allowed;
        emit TypeCodeSet(account, typeCode, allowed);
    }

    function suspendIssuer(address account) external onlyRole(REGISTRAR_ROLE) {
        if (!_issuers[account].registered) revert UnknownIssuer(account);
        _issuers[account].active = false;
        emit IssuerSuspended(account);
    }

    /// @notice True when the account is an active issuer allowed to issue the type.
    function isAuthorised(address account, bytes32 typeCode) external view returns (bool) {
        Issuer storage i = _issuers[account];
        return i.active && _typeCodes[account][typeCode];
    }

    function isActive(address account) external view returns (bool) {
        return _issuers[account].active;
    }

    function isAdmin(address account) external view returns (bool) {
        return hasRole(DEFAULT_ADMIN_ROLE, account);
    }

    function issuer(address account) external view returns (bool registered, bool active, string memory name) {
        Issuer storage i = _issuers[account];
        return (i.registered, i.active, i.name);
    }
}
