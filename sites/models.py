"""Website builder: sites, pages, immutable page versions, deployments, domains."""
