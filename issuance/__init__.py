"""The domain: tenants, departments, users, matters, types, catalogs, certificates, approvals.

No HTTP, no Flask, no web3 here: the web app, the sharing API and the CLI call these services,
and the ledger is reached only through ``ledger.Ledger``.
"""
