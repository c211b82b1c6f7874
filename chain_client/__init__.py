"""JSON-RPC client for any Ethereum-compatible node (ours, anvil, Besu, GoQuorum) via web3.py."""
