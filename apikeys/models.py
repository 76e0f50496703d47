# API tokens, credentials and access tokens arrive with the REST API issue.
