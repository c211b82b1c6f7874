"""Layout files: OFD (GB/T 33190) writing, reading and safe unpacking; PDF and PNG renditions."""
