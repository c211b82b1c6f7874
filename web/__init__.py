"""The management web app (Flask): thin views over the services of ``issuance``."""
