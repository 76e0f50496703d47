"""Drop-in dialects of other providers' APIs: thin mappings over the API's request chain and services."""
