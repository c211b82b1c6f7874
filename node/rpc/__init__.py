"""JSON-RPC over HTTP: the Ethereum methods web3.py and other tools call, plus clique_* and the
peer methods (certledger_*) nodes use to exchange blocks."""
