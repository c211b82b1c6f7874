"""The ledger node: a permissioned proof-of-authority chain on py-evm, speaking JSON-RPC only.

Nothing in the platform imports this package; tests and the launcher start it as a process.
"""
